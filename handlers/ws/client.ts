/**
 * The WebSocket API, through Deno's native WebSocket client carried by the
 * relay (handlers/ws/relay.ts): the client makes and closes each connection,
 * the relay carries its messages. `WsClient` connects with a fresh token per
 * attempt, reports messages, state and written bytes to its handlers, pauses
 * reading on request (backpressure), and reconnects per the original's
 * policy:
 *
 * - every (re)connection attempt counts;
 * - a connection that stayed up longer than `attemptWindowSecs` was lost in
 *   routine fashion, and the count starts again;
 * - when the count reaches `maxConnectAttempts`, it gives up: `closed`
 *   rejects with `WsGaveUpError` naming the last failure. With both at 0,
 *   any reconnect is fatal.
 *
 * A connection the relay judges dead (handlers/ws/liveness.ts) is given up for
 * sending at once (the handlers hand its window back) but keeps receiving
 * while it lingers: an API that was only frozen may still answer what it
 * had read, and what it sends then is not thrown away.
 *
 * The URL carries the token, so it is never logged.
 */
import { delay, within } from "../../lib/async.ts";
import { type TokenSettings, tokenUrl } from "./jwt.ts";
import type { ProxyEnv } from "./http_proxy.ts";
import { type Metrics, WS_CONNECTION_ATTEMPTS_TOTAL, WS_CONNECTIONS_LOST_TOTAL } from "../../lib/metrics.ts";
import { RelayDir, type RelayLink } from "./relay.ts";
import type { Logger } from "../../lib/log.ts";

/** What the client needs of the resolved `[ws_api]` settings (config/ gives exactly this shape). */
export interface WsClientSettings extends TokenSettings {
  pingIntervalSecs: number;
  maxConnectAttempts: number;
  attemptWindowSecs: number;
  connectTimeoutSecs: number;
  noDelay: boolean;
  /** ws_coalesce_ms: while messages come in batches, the shortest time between two writes. */
  coalesceMs: number;
}

/** One established connection. Sending on a closed one is a no-op returning false. */
export interface WsConnection {
  readonly id: number;
  readonly isOpen: boolean;
  /** Total payload bytes handed to `send` on this connection. */
  readonly sentBytes: number;
  /** Payload bytes of those now written to the API's TCP socket (see WsHandlers.onWritten). */
  readonly writtenBytes: number;
  /** Sends `payload` as a text frame (it must be valid UTF-8) or a binary one. */
  send(payload: Uint8Array, text: boolean): boolean;
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
  /** A message; `text` when it came as a text frame (its bytes are not checked for UTF-8 here). */
  onMessage(data: Uint8Array, text: boolean, conn: WsConnection): void;
  /** More of what was sent on `conn` is written out (`conn.writtenBytes` grew). */
  onWritten(conn: WsConnection): void;
  onClose(conn: WsConnection, info: WsCloseInfo): void;
}

/** The reconnect policy ran out of attempts. */
export class WsGaveUpError extends Error {
  override name = "WsGaveUpError";
}

/** Longest wait between attempts; the first retry comes after 250 ms and each doubles. */
const MAX_BACKOFF_MS = 10_000;
const CLOSE_WAIT_MS = 2_000;
/** How long a connection given up as dead may still deliver what the API sends. */
const DEAD_LINGER_MS = 60_000;

const ENCODER = new TextEncoder();

type Outcome = { opened: false; why: string } | { opened: true; why: string; lifetimeMs: number };

/** A WebSocket client that reconnects by the attempts/window policy. */
export class WsClient {
  readonly #settings: WsClientSettings;
  readonly #handlers: WsHandlers;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #makeUrl: () => Promise<string>;
  readonly #caPem: string | null;
  readonly #relayParent: string;
  readonly #proxy: ProxyEnv;
  #socket: WebSocket | null = null;
  #current: Connection | null = null;
  #ids = 0;
  #closing = false;
  #stop = new AbortController();
  #loop: Promise<void> | null = null;
  #firstOpen = Promise.withResolvers<void>();
  #closed = Promise.withResolvers<void>();
  #closePromise: Promise<void> | null = null;
  #relay: RelayDir | null = null;
  /** Links of opened connections still carrying a socket (the current one and any lingering). */
  readonly #links = new Set<RelayLink>();
  #paused = false;

  /** Resolves after `close()`; rejects with `WsGaveUpError` when the policy gives up. */
  readonly closed: Promise<void> = this.#closed.promise;

  constructor(
    settings: WsClientSettings,
    handlers: WsHandlers,
    deps: {
      log: Logger;
      metrics: Metrics;
      makeUrl?: () => Promise<string>;
      caPem?: string | null;
      /** Where the relay makes its private socket directory (default /tmp). */
      relayDir?: string;
      /** HTTP proxy settings for the connection (default: none). */
      proxy?: ProxyEnv;
    },
  ) {
    this.#settings = settings;
    this.#caPem = deps.caPem ?? null;
    this.#relayParent = deps.relayDir ?? "/tmp";
    this.#proxy = deps.proxy ?? {};
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

  /** Stops (true) or resumes (false) reading from the API, on every connection, now and after reconnects. */
  setReadingPaused(paused: boolean): void {
    if (this.#paused === paused) return;
    this.#paused = paused;
    for (const link of this.#links) paused ? link.pause() : link.resume();
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
    // Read again while closing: the API's answer to the close, and what it sent before it, come
    // in behind what backpressure held back; the bridge publishes it within its shutdown budget.
    this.setReadingPaused(false);
    const socket = this.#socket;
    if (socket?.readyState === WebSocket.OPEN) {
      const closed = new Promise((resolve) => socket.addEventListener("close", resolve, { once: true }));
      socket.close(1000, reason);
      if (!await within(closed, CLOSE_WAIT_MS)) {
        this.#log.warn(`The WebSocket API did not answer the close within ${CLOSE_WAIT_MS} ms; cutting it`);
      }
    }
    // Attempts still connecting, lingering or unanswered connections are cut; the run loop ends with them.
    await this.#relay?.close();
    await within(this.#loop ?? Promise.resolve(), CLOSE_WAIT_MS);
    this.#firstOpen.resolve();
    this.#closed.resolve();
  }

  async #run(): Promise<void> {
    try {
      this.#relay = await RelayDir.open(this.#relayParent);
      if (this.#closing) return void await this.#relay.close(); // close() came while it was made
    } catch (err) {
      const error = new Error(
        `Cannot create the WebSocket relay's private directory in ${this.#relayParent}: ${
          (err as Error).message
        }`,
        { cause: err },
      );
      this.#log.error(error.message);
      this.#firstOpen.reject(error);
      this.#closed.reject(error);
      return;
    }
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
      const outcome = await this.#attempt(count, this.#relay);
      last = outcome.why;
      if (outcome.opened && outcome.lifetimeMs > window * 1000) count = 0;
    }
  }

  /**
   * One attempt: resolves when it fails to open, or when the opened
   * connection ends (or is given up as dead: it may linger, receiving).
   */
  async #attempt(attempt: number, relay: RelayDir): Promise<Outcome> {
    const { promise, resolve } = Promise.withResolvers<Outcome>();
    let conn: Connection | null = null;
    let openedAt = 0;
    let error = "";
    let failed = false;
    let socket: WebSocket;
    let link: RelayLink;
    try {
      const url = await this.#makeUrl();
      // close() may have run while the token was signed; it saw no socket to close.
      if (this.#closing) return { opened: false, why: "closed before connecting" };
      link = relay.link(this.#settings.apiHost, {
        caCerts: this.#caPem ? [this.#caPem] : undefined,
        noDelay: this.#settings.noDelay,
        proxy: this.#proxy,
        pingIntervalMs: this.#settings.pingIntervalSecs * 1000,
        coalesceMs: this.#settings.coalesceMs,
      }, {
        onWritten: () => conn && this.#handlers.onWritten(conn),
        onDead: (why) => giveUp(why),
      });
      const route = link.route(url);
      try {
        socket = new WebSocket(route.url, route.options);
      } catch (err) {
        link.abort();
        throw err;
      }
    } catch (err) {
      const why = `cannot start a connection: ${(err as Error).message}`;
      this.#log.warn("Cannot connect to the WebSocket API", { attempt, error: why });
      return { opened: false, why };
    }
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    const timer = setTimeout(() => {
      error = `no handshake within ${this.#settings.connectTimeoutSecs} s`;
      socket.close();
      finish(1006, "");
    }, this.#settings.connectTimeoutSecs * 1000);
    /** The connection is over for sending: report it once; receiving may go on until the close event. */
    const finish = (code: number, reason: string) => {
      clearTimeout(timer);
      if (!conn) {
        if (failed) return;
        failed = true;
        link.abort();
        const why = link.takeError() || error ||
          `closed before opening (code ${code}${reason ? `, ${reason}` : ""})`;
        this.#log.warn("Cannot connect to the WebSocket API", { attempt, error: why });
        return resolve({ opened: false, why });
      }
      if (!conn.isLive) return; // Deno can dispatch "close" twice; a dead one closes later
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
    /** The relay judged the API dead: stop sending now, close politely, let it linger for what it sends. */
    const giveUp = (why: string) => {
      if (!conn?.isLive || this.#closing) return;
      error = `not responding: ${why}`;
      link.abortAfter(DEAD_LINGER_MS);
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, "mq2wsbridge: no response");
      finish(1006, "");
    };
    let receiving = true;
    socket.onopen = () => {
      clearTimeout(timer);
      openedAt = Date.now();
      conn = new Connection(++this.#ids, socket, link);
      this.#current = conn;
      const opened = conn;
      // Messages are read by the relay (handlers/ws/data_frames.ts), those that came with the handshake first.
      link.receive((data, text) => {
        if (receiving) this.#handlers.onMessage(data, text, opened);
      });
      // Backpressure applies from here: pausing earlier would hold back the handshake's answer.
      this.#links.add(link);
      if (this.#paused) link.pause();
      link.done.then(() => this.#links.delete(link));
      this.#log.info("Connected to the WebSocket API", {
        conn: conn.id,
        host: this.#settings.apiHost,
        attempt,
      });
      this.#handlers.onOpen(conn);
      this.#firstOpen.resolve();
    };
    // The relay hands Deno's client no data frame, except when it passes on a stream it does not carry
    // (a broken one, which the client then fails): what the client makes of it still counts.
    socket.onmessage = (event: MessageEvent) => {
      // Still delivered while closing or lingering: the API may send until it answers our close.
      if (!conn || !receiving) return;
      if (typeof event.data === "string") {
        return this.#handlers.onMessage(ENCODER.encode(event.data), true, conn);
      }
      this.#handlers.onMessage(new Uint8Array(event.data as ArrayBuffer), false, conn);
    };
    socket.onerror = (event: Event) => {
      error ||= (event as ErrorEvent).message || "error";
    };
    socket.onclose = (event: CloseEvent) => {
      receiving = false;
      finish(event.code, event.reason);
    };
    return await promise;
  }
}

class Connection implements WsConnection {
  readonly id: number;
  readonly #socket: WebSocket;
  readonly #link: RelayLink;
  #open = true;
  #sent = 0;

  constructor(id: number, socket: WebSocket, link: RelayLink) {
    this.id = id;
    this.#socket = socket;
    this.#link = link;
  }

  get isOpen(): boolean {
    return this.#open && this.#socket.readyState === WebSocket.OPEN;
  }

  /** Until it is reported closed (or given up as dead). */
  get isLive(): boolean {
    return this.#open;
  }

  get sentBytes(): number {
    return this.#sent;
  }

  get writtenBytes(): number {
    return this.#link.writtenBytes;
  }

  send(payload: Uint8Array, text: boolean): boolean {
    if (!this.isOpen) return false;
    this.#link.send(payload, text); // framed by the relay, not by the client (handlers/ws/data_frames.ts)
    this.#sent += payload.length;
    return true;
  }

  markClosed(): void {
    this.#open = false;
  }
}
