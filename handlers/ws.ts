/**
 * The WebSocket API, through Deno's native WebSocket client. `WsClient`
 * connects with a fresh token per attempt, reports messages and state to
 * its handlers, keeps the connection alive with ping frames, and reconnects
 * per the original's policy:
 *
 * - every (re)connection attempt counts;
 * - a connection that stayed up longer than `attemptWindowSecs` was lost in
 *   routine fashion, and the count starts again;
 * - when the count reaches `maxConnectAttempts`, it gives up: `closed`
 *   rejects with `WsGaveUpError` naming the last failure. With both at 0,
 *   any reconnect is fatal.
 *
 * The URL carries the token, so it is never logged.
 */
import type { WsSettings } from "../lib/config.ts";
import { delay, within } from "../lib/async.ts";
import { tokenUrl } from "../lib/jwt.ts";
import { type Metrics, WS_CONNECTION_ATTEMPTS_TOTAL, WS_CONNECTIONS_LOST_TOTAL } from "../lib/metrics.ts";
import { enableClientPings } from "../lib/ws_ping.ts";
import { NoDelayRelay } from "../lib/ws_nodelay.ts";
import type { Logger } from "./logging.ts";

/** One established connection. Sending on a closed one is a no-op returning false. */
export interface WsConnection {
  readonly id: number;
  readonly isOpen: boolean;
  /** Bytes handed to the socket and not yet written out. */
  readonly bufferedAmount: number;
  /** Total payload bytes handed to `send` on this connection. */
  readonly sentBytes: number;
  /** Sends a text (string) or binary frame; `byteLength` is the payload size in bytes. */
  send(data: string | Uint8Array, byteLength: number): boolean;
}

/** How a connection ended. */
export interface WsCloseInfo {
  code: number;
  reason: string;
  /** Milliseconds the connection was open. */
  lifetimeMs: number;
}

/** What the client tells its owner. */
export interface WsHandlers {
  onOpen(conn: WsConnection): void;
  onMessage(data: string | Uint8Array, conn: WsConnection): void;
  onClose(conn: WsConnection, info: WsCloseInfo): void;
}

/** The reconnect policy ran out of attempts. */
export class WsGaveUpError extends Error {
  override name = "WsGaveUpError";
}

/** Longest wait between attempts; the first retry comes after 250 ms and each doubles. */
const MAX_BACKOFF_MS = 10_000;
const CLOSE_WAIT_MS = 2_000;

type Outcome = { opened: false; why: string } | { opened: true; why: string; lifetimeMs: number };

/** A WebSocket client that reconnects by the attempts/window policy. */
export class WsClient {
  readonly #settings: WsSettings;
  readonly #handlers: WsHandlers;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #makeUrl: () => Promise<string>;
  #socket: WebSocket | null = null;
  #current: Connection | null = null;
  #ids = 0;
  #closing = false;
  #stop = new AbortController();
  #loop: Promise<void> | null = null;
  #firstOpen = Promise.withResolvers<void>();
  #closed = Promise.withResolvers<void>();
  #closePromise: Promise<void> | null = null;
  #pingWarned = false;
  readonly #caPem: string | null;
  readonly #relayDir: string;
  #relay: NoDelayRelay | null = null;
  #direct: Deno.HttpClient | null = null;

  /** Resolves after `close()`; rejects with `WsGaveUpError` when the policy gives up. */
  readonly closed: Promise<void> = this.#closed.promise;

  constructor(
    settings: WsSettings,
    handlers: WsHandlers,
    deps: {
      log: Logger;
      metrics: Metrics;
      makeUrl?: () => Promise<string>;
      caPem?: string | null;
      /** Where the no-delay relay makes its private socket directory (default /tmp). */
      relayDir?: string;
    },
  ) {
    this.#settings = settings;
    this.#caPem = deps.caPem ?? null;
    this.#relayDir = deps.relayDir ?? "/tmp";
    this.#handlers = handlers;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#makeUrl = deps.makeUrl ?? (() => tokenUrl(settings));
    this.closed.catch(() => {});
    this.#firstOpen.promise.catch(() => {});
  }

  /** The open connection, if any. */
  get current(): WsConnection | null {
    return this.#current?.isOpen ? this.#current : null;
  }

  /** Starts connecting; resolves at the first open, rejects if the policy gives up first. */
  start(): Promise<void> {
    this.#loop ??= this.#run();
    return this.#firstOpen.promise;
  }

  /** Stops reconnecting and closes the connection (code 1000). Safe to call twice. */
  close(reason = "mq2wsbridge shutting down"): Promise<void> {
    return this.#closePromise ??= this.#doClose(reason);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #doClose(reason: string): Promise<void> {
    this.#closing = true;
    this.#stop.abort();
    const socket = this.#socket;
    let socketClosed = true;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      const closed = new Promise((resolve) => socket.addEventListener("close", resolve, { once: true }));
      socket.close(1000, reason);
      socketClosed = await within(closed, CLOSE_WAIT_MS);
    }
    // The run loop ends with the socket's close event. Deno's client has no way to abandon a
    // close the peer never answers, so then the loop is left to end whenever the peer lets go.
    if (socketClosed) await this.#loop;
    else this.#log.warn(`The WebSocket API did not answer the close within ${CLOSE_WAIT_MS} ms; not waiting`);
    await this.#relay?.close();
    this.#direct?.close();
    this.#firstOpen.resolve();
    this.#closed.resolve();
  }

  async #run(): Promise<void> {
    await this.#prepare();
    const { maxConnectAttempts: max, attemptWindowSecs: window } = this.#settings;
    let count = 0;
    let last = "";
    while (!this.#closing) {
      if (last !== "" && count >= max) {
        const error = new WsGaveUpError(
          `WebSocket connection failed ${count} time(s) without staying up ${window} s ` +
            `(ws_max_connect_attempts=${max}, ws_attempt_window_secs=${window}); last: ${last}`,
        );
        this.#log.error(`Giving up: ${error.message}`);
        this.#firstOpen.reject(error);
        this.#closed.reject(error);
        return;
      }
      if (count > 0) await delay(Math.min(250 * 2 ** (count - 1), MAX_BACKOFF_MS), this.#stop.signal);
      if (this.#closing) break;
      count++;
      this.#metrics.count(WS_CONNECTION_ATTEMPTS_TOTAL);
      const outcome = await this.#attempt(count);
      last = outcome.why;
      if (outcome.opened && outcome.lifetimeMs > window * 1000) count = 0;
    }
  }

  /** One attempt: resolves when it fails to open, or when the opened connection ends. */
  async #attempt(attempt: number): Promise<Outcome> {
    let socket: WebSocket;
    try {
      const url = await this.#makeUrl();
      // close() may have run while the token was signed; it saw no socket to close.
      if (this.#closing) return { opened: false, why: "closed before connecting" };
      const route = this.#route(url);
      socket = new WebSocket(route.url, route.options);
    } catch (err) {
      return { opened: false, why: `cannot start a connection: ${(err as Error).message}` };
    }
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    const { promise, resolve } = Promise.withResolvers<Outcome>();
    let conn: Connection | null = null;
    let openedAt = 0;
    let error = "";
    const timer = setTimeout(() => {
      error = `no handshake within ${this.#settings.connectTimeoutSecs} s`;
      socket.close();
      finish(1006, "");
    }, this.#settings.connectTimeoutSecs * 1000);
    let failed = false;
    const finish = (code: number, reason: string) => {
      clearTimeout(timer);
      if (!conn) {
        if (failed) return;
        failed = true;
        const why = this.#relay?.takeError() || error ||
          `closed before opening (code ${code}${reason ? `, ${reason}` : ""})`;
        this.#log.warn("Cannot connect to the WebSocket API", { attempt, error: why });
        return resolve({ opened: false, why });
      }
      if (!conn.alive) return; // Deno can dispatch "close" twice
      conn.markClosed();
      const lifetimeMs = Date.now() - openedAt;
      const why = `connection closed (code ${code}${reason ? `, ${reason}` : ""}${
        error ? `, ${error}` : ""
      })`;
      if (!this.#closing) {
        this.#metrics.count(WS_CONNECTIONS_LOST_TOTAL);
        this.#log.warn("WebSocket connection lost", {
          conn: conn.id,
          code,
          reason,
          error: error || undefined, // the runtime's word for a broken frame: "Invalid UTF-8", "Frame too large"...
          lifetime_ms: lifetimeMs,
        });
      }
      if (this.#current === conn) this.#current = null;
      this.#handlers.onClose(conn, { code, reason, lifetimeMs });
      resolve({ opened: true, why, lifetimeMs });
    };
    socket.onopen = () => {
      clearTimeout(timer);
      openedAt = Date.now();
      conn = new Connection(++this.#ids, socket);
      this.#current = conn;
      this.#keepAlive(socket);
      this.#log.info("Connected to the WebSocket API", {
        conn: conn.id,
        host: this.#settings.apiHost,
        attempt,
      });
      this.#handlers.onOpen(conn);
      this.#firstOpen.resolve();
    };
    socket.onmessage = (event: MessageEvent) => {
      // Still delivered while closing: the API may send until it answers our close.
      if (!conn?.alive) return;
      const data = typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer);
      this.#handlers.onMessage(data, conn);
    };
    socket.onerror = (event: Event) => {
      error = (event as ErrorEvent).message || "error";
    };
    socket.onclose = (event: CloseEvent) => finish(event.code, event.reason);
    return await promise;
  }

  /** Sets up the no-delay relay (ws_no_delay) or a client for ws_ca_file; see lib/ws_nodelay.ts. */
  async #prepare(): Promise<void> {
    const caCerts = this.#caPem ? [this.#caPem] : undefined;
    if (this.#settings.noDelay) {
      try {
        this.#relay = await NoDelayRelay.open(this.#settings.apiHost, {
          tmpDir: this.#relayDir,
          ...(caCerts ? { caCerts } : {}),
        });
        return;
      } catch (err) {
        this.#log.warn(
          "Cannot set up the no-delay relay; connecting directly, so frames over about 1 KiB may wait up " +
            "to 40 ms for the peer's acknowledgement (Nagle's algorithm)",
          { error: (err as Error).message },
        );
      }
    }
    if (caCerts) this.#direct = Deno.createHttpClient({ caCerts });
  }

  /** The URL and options to open a WebSocket with: through the relay, or directly. */
  #route(url: string): { url: string; options?: WebSocketOptions } {
    if (this.#relay) return this.#relay.route(url);
    return this.#direct ? { url, options: { client: this.#direct } } : { url };
  }

  #keepAlive(socket: WebSocket): void {
    const interval = this.#settings.pingIntervalSecs;
    if (interval <= 0 || enableClientPings(socket, interval) || this.#pingWarned) return;
    this.#pingWarned = true;
    this.#log.warn("This Deno runtime cannot send WebSocket pings; ws_ping_interval has no effect");
  }
}

class Connection implements WsConnection {
  readonly id: number;
  readonly #socket: WebSocket;
  #open = true;
  #sent = 0;

  constructor(id: number, socket: WebSocket) {
    this.id = id;
    this.#socket = socket;
  }

  get isOpen(): boolean {
    return this.#open && this.#socket.readyState === WebSocket.OPEN;
  }

  /** Until the close event: messages may still arrive while closing. */
  get alive(): boolean {
    return this.#open;
  }

  get bufferedAmount(): number {
    return this.#open ? this.#socket.bufferedAmount : 0;
  }

  get sentBytes(): number {
    return this.#sent;
  }

  send(data: string | Uint8Array, byteLength: number): boolean {
    if (!this.isOpen) return false;
    this.#socket.send(data as string | Uint8Array<ArrayBuffer>);
    this.#sent += byteLength;
    return true;
  }

  markClosed(): void {
    this.#open = false;
  }
}
