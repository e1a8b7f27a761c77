/**
 * Deno runtime adapter: the WebSocket client's transport. Deno's WebSocket
 * client reads its socket eagerly (no backpressure), never sets TCP_NODELAY
 * (a frame over ~1 KiB waits up to 40 ms for a delayed ACK), cannot send a
 * ping, tells nothing about what has really left (`bufferedAmount` counts
 * only its own queue), and costs an op, two copies and an event per message
 * each way. So the client is given a `Deno.HttpClient`
 * whose one connection goes to a Unix socket in a private directory, and
 * this relay carries the bytes between it and the API's TCP (or TLS, made
 * here) connection, where it can:
 *
 * - pause reading from the API (backpressure: the API's sends block in TCP);
 * - say how many payload bytes of data frames are written to the TCP socket
 *   (`onWritten`), the only point after which a frame counts as sent;
 * - frame the bridge's messages and read the API's itself, so that they never
 *   cross Deno's client, which keeps the handshake, the API's pings and the
 *   closing handshake (handlers/ws/data_frames.ts says why), and gather the
 *   messages of a flood into fewer writes (handlers/ws/write_pacing.ts);
 * - put its own ping frames between the client's frames, and judge the
 *   connection by both directions of the socket (handlers/ws/liveness.ts);
 * - go through an HTTP proxy with CONNECT (handlers/ws/http_proxy.ts);
 * - on close, half-close and let what it holds drain, never discarding
 *   bytes it has read from either side.
 *
 * Retire it when Deno's WebSocket gets stream backpressure and TCP_NODELAY
 * in its stable API (`WebSocketStream` is still behind `--unstable-net`;
 * denoland/deno#35581 adds `noDelay` to `Deno.createHttpClient`). The proof
 * that it still works is tests/integration/ws_relay_test.ts and the chaos suite.
 *
 * The URL (with its token) only ever crosses the private socket.
 */
import { clientPingFrame, FrameScanner } from "./frames.ts";
import { DataFrameWriter, type OnMessage, ServerStreamReader } from "./data_frames.ts";
import { WritePacer } from "./write_pacing.ts";
import { within } from "../../lib/async.ts";
import { judgeLiveness } from "./liveness.ts";
import { connectThroughProxy, type ProxyEnv, proxyFor, proxyLabel } from "./http_proxy.ts";

/** How to open a WebSocket through a link: a rewritten URL and the client option. */
export interface Route {
  url: string;
  options: { client: Deno.HttpClient };
}

/** How the links reach the API. */
export interface RelayOptions {
  /** PEM CA certificates for wss:// (default: the system store). */
  caCerts?: string[] | undefined;
  /** TCP_NODELAY on the API connection (ws_no_delay). */
  noDelay: boolean;
  proxy: ProxyEnv;
  /** ws_ping_interval in milliseconds; 0 turns pings and the liveness check off. */
  pingIntervalMs: number;
  /** ws_coalesce_ms: while messages come in batches, the shortest time between two writes (handlers/ws/write_pacing.ts). */
  coalesceMs: number;
}

/** Where the API is: host, port, and whether to speak TLS to it. */
interface Target {
  hostname: string;
  port: number;
  tls: boolean;
}

/** What a link reports to the WebSocket client. */
export interface LinkEvents {
  /** Payload bytes of data frames now written to the TCP socket, in total. */
  onWritten(dataBytes: number): void;
  /** The liveness rule gave the connection up, or writing to the API failed; `why` is for the log. */
  onDead(why: string): void;
}

/** Told how many bytes of a buffer being written the socket has taken so far. */
type Progress = (written: number) => void;

const NAME_PREFIX = "mq2wsbridge-ws-";
/** The file a running relay keeps locked in its directory (see RelayDir.open). */
const LOCK_FILE = "owner.lock";
/** A directory without a lock file younger than this may be one being made right now: it is left alone. */
const UNLOCKED_GRACE_MS = 60_000;
const CHUNK = 64 * 1024;
/** How long close() waits for the links it cut to finish. */
const CLOSE_MS = 2_000;
/** A write that took longer than this had to wait for room: the API's side took bytes while it waited. */
const WAITED_MS = 2;
/** After one direction ends, how long the other may go on before both are cut. */
const LINGER_MS = 5_000;

/** The private directory of one bridge process; each connection attempt gets a link in it. */
export class RelayDir implements AsyncDisposable {
  readonly path: string;
  #links = 0;
  readonly #open = new Set<RelayLink>();
  readonly #lock: Deno.FsFile;
  #closing: Promise<void> | null = null;

  private constructor(path: string, lock: Deno.FsFile) {
    this.path = path;
    this.#lock = lock;
  }

  /**
   * Makes a directory only this process can enter, under `parent`, after
   * removing the ones left behind by relays whose process is gone (a SIGKILL).
   *
   * Whether a process is gone is told by a lock, not by its pid: the
   * directory holds a file this process keeps an exclusive `flock` on for as
   * long as it runs (the kernel drops it when the process dies, however it
   * dies). `/proc/PID` would do, but Deno refuses every `/proc` path to a
   * program without `--allow-all`, which made every running bridge look gone
   * to the next one started beside it.
   */
  static async open(parent: string): Promise<RelayDir> {
    await removeStale(parent);
    const path = await Deno.makeTempDir({ dir: parent, prefix: `${NAME_PREFIX}${Deno.pid}-` });
    let lock: Deno.FsFile | null = null;
    try {
      await Deno.chmod(path, 0o700); // the socket carries the token in clear: ours alone
      // Locked under another name, then renamed: a cleaner never finds `owner.lock` unlocked (until the
      // rename it sees a young directory without one, and leaves it alone).
      lock = await Deno.open(`${path}/${LOCK_FILE}.new`, { write: true, createNew: true, mode: 0o600 });
      await lock.lock(true);
      await Deno.rename(`${path}/${LOCK_FILE}.new`, `${path}/${LOCK_FILE}`);
      return new RelayDir(path, lock);
    } catch (err) {
      lock?.close();
      await Deno.remove(path, { recursive: true }).catch(() => {});
      throw err;
    }
  }

  /** A link for one connection attempt to `apiHost` (`ws://` or `wss://`, host and port used). */
  link(apiHost: string, options: RelayOptions, events: LinkEvents): RelayLink {
    const url = new URL(apiHost);
    const tls = url.protocol === "wss:";
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const target = { hostname, port: Number(url.port) || (tls ? 443 : 80), tls };
    const link = new RelayLink(`${this.path}/${++this.#links}.sock`, target, options, events);
    this.#open.add(link);
    link.done.then(() => this.#open.delete(link));
    return link;
  }

  /** Cuts every link and removes the directory, within a bounded time. Safe twice. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      for (const link of this.#open) link.abort();
      await within(Promise.all([...this.#open].map((l) => l.done)), CLOSE_MS);
      await Deno.remove(this.path, { recursive: true }).catch(() => {});
      this.#lock.close(); // after the removal: a cleaner never sees the directory unlocked while it is ours
    })();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** One relayed connection: a Unix listener for the client's single connection, and the API connection. */
export class RelayLink {
  readonly #target: Target;
  readonly #options: RelayOptions;
  readonly #events: LinkEvents;
  readonly #listener: Deno.Listener;
  readonly #client: Deno.HttpClient;
  readonly #path: string;
  #local: Deno.Conn | null = null;
  #remote: Deno.Conn | null = null;
  /** Deno's client writes the upgrade request and control frames; where they end, the relay's own frames go. */
  readonly #scanner = new FrameScanner();
  /** Data messages from the API, read here and handed over (handlers/ws/data_frames.ts). */
  readonly #reader = new ServerStreamReader((data, text) => this.#deliver(data, text));
  readonly #writer = new DataFrameWriter();
  readonly #pacer: WritePacer;
  #flushScheduled = false;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Who gets the API's messages; until receive() names it, they wait in #early. */
  #onMessage: OnMessage | null = null;
  #early: [Uint8Array, boolean][] = [];
  /** Frames of the relay's own (messages, pings) waiting for the end of a frame of the client's. */
  #held: { bytes: Uint8Array; done: PromiseWithResolvers<void>; progress: Progress | undefined }[] = [];
  /** Payload bytes of the relay's own data frames written to the API's socket. */
  #directWritten = 0;
  /** Payload bytes of the client's own data frames written (none once open: it sends no messages itself). */
  #written = 0;
  #paused: PromiseWithResolvers<void> | null = null;
  #lastReadAt = 0;
  #lastWriteAt = 0;
  #writing = false;
  #pingOutstanding = false;
  #upBusy = false;
  #writes: Promise<void> = Promise.resolve();
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** The connection being made to the API (TCP, then TLS): closed by abort() to cut a hung attempt. */
  #connecting: Deno.Conn | null = null;
  readonly #stop = new AbortController();
  #proxy: URL | null = null;
  /** Last time a write that had to wait for the API (the socket was full) completed: it reads. */
  #lastDrainAt = 0;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #lingerUntil = Infinity;
  #aborted = false;
  #dead = false;
  #error: string | null = null;
  #pings = 0;
  /** Settles when both sockets are closed. */
  readonly done: Promise<void>;

  constructor(path: string, target: Target, options: RelayOptions, events: LinkEvents) {
    this.#path = path;
    this.#target = target;
    this.#options = options;
    this.#events = events;
    this.#pacer = new WritePacer(options.coalesceMs);
    this.#proxy = proxyFor(target, options.proxy); // the settings were checked at start-up
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
    // Never rejects: a link's failures are in takeError() and its events, not in a promise nobody awaits.
    this.done = this.#run().catch(() => {});
  }

  /** The URL and client option to open `url` through this link (TLS, if any, is the link's job). */
  route(url: string): Route {
    const plain = new URL(url);
    plain.protocol = "ws:";
    return { url: plain.href, options: { client: this.#client } };
  }

  /**
   * Sends one message to the API as a frame of the relay's own (text when
   * `text`): the messages sent in one turn of the event loop go out in one
   * write, at the end of the turn, or a little later while they come in
   * batches (WritePacer). Only once the connection is open; `payload` must
   * not change until it is written (writtenBytes says when).
   */
  send(payload: Uint8Array, text: boolean): void {
    this.#writer.add(payload, text);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    const wait = this.#pacer.delay(performance.now());
    if (wait > 0) this.#flushTimer = setTimeout(() => this.#flush(), wait);
    else queueMicrotask(() => this.#flush());
  }

  /** From now on the API's messages go to `onMessage`, those read before first, in order. */
  receive(onMessage: OnMessage): void {
    this.#onMessage = onMessage;
    const early = this.#early;
    this.#early = [];
    for (const [data, text] of early) onMessage(data, text);
  }

  /** Payload bytes of data frames written to the API's socket so far. */
  get writtenBytes(): number {
    return this.#written + this.#directWritten;
  }

  /** Why the link could not reach the API, if it could not (read once). */
  takeError(): string | null {
    const error = this.#error;
    this.#error = null;
    return error;
  }

  /** Stops reading from the API; what is already read still reaches the client. */
  pause(): void {
    this.#paused ??= Promise.withResolvers<void>();
  }

  /** Reads from the API again; the silence of the pause does not count against it. */
  resume(): void {
    if (!this.#paused) return;
    this.#lastReadAt = performance.now();
    this.#paused.resolve();
    this.#paused = null;
  }

  /** Cuts both sockets at once, whatever they hold. Safe twice. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#stop.abort();
    this.resume();
    closeQuietly(this.#listener);
    for (const conn of [this.#local, this.#remote, this.#connecting]) if (conn) closeQuietly(conn);
  }

  /** Cuts the link `ms` from now unless both sides have closed by then (the sooner of two deadlines wins). */
  abortAfter(ms: number): void {
    const until = performance.now() + ms;
    if (until >= this.#lingerUntil) return;
    this.#lingerUntil = until;
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => this.abort(), ms);
  }

  async #run(): Promise<void> {
    try {
      const local = await this.#acceptOne();
      if (!local) return;
      this.#local = local;
      const remote = await this.#connect().catch((err) => {
        this.#error = `cannot reach ${this.#describe()}: ${(err as Error).message}`;
        if (this.#connecting) closeQuietly(this.#connecting); // what the attempt got as far as
        return null;
      });
      this.#connecting = null;
      if (!remote || this.#aborted) {
        if (remote) closeQuietly(remote);
        return;
      }
      this.#remote = remote;
      this.#lastReadAt = this.#lastWriteAt = performance.now();
      await Promise.all([this.#up(local, remote), this.#down(remote, local)]);
    } finally {
      clearInterval(this.#watchdog);
      clearTimeout(this.#linger);
      // A paced write still waiting will not happen: its messages stay uncounted (the bridge hands them back).
      clearTimeout(this.#flushTimer);
      this.#flushScheduled = false;
      this.#writer.take();
      closeQuietly(this.#listener);
      for (const conn of [this.#local, this.#remote]) if (conn) closeQuietly(conn);
      closeQuietly(this.#client);
      await Deno.remove(this.#path).catch(() => {});
    }
  }

  async #acceptOne(): Promise<Deno.Conn | null> {
    try {
      return await this.#listener.accept();
    } catch {
      return null; // aborted before the client connected
    } finally {
      closeQuietly(this.#listener);
      await Deno.remove(this.#path).catch(() => {});
    }
  }

  /** TCP (through the proxy, if any), then TLS for wss://; abort() closes whatever is being made. */
  async #connect(): Promise<Deno.Conn> {
    const { hostname, port, tls } = this.#target;
    const { noDelay, caCerts } = this.#options;
    const signal = this.#stop.signal;
    let tcp: Deno.TcpConn;
    if (this.#proxy) {
      tcp = await connectThroughProxy(this.#proxy, hostname, port, {
        noDelay,
        signal,
        opened: (conn) => this.#connecting = conn,
      });
    } else {
      tcp = await Deno.connect({ hostname, port, signal });
      tcp.setNoDelay(noDelay);
    }
    this.#connecting = tcp;
    if (this.#aborted) throw new Error("aborted");
    if (!tls) return tcp;
    const secure = await Deno.startTls(tcp, { hostname, ...(caCerts ? { caCerts } : {}) }).catch((err) => {
      closeQuietly(tcp);
      throw err;
    });
    this.#connecting = secure; // startTls took the TCP connection over: closing the TLS one closes both
    if (this.#aborted) throw new Error("aborted");
    await secure.handshake();
    return secure;
  }

  #describe(): string {
    const { hostname, port, tls } = this.#target;
    const proxy = this.#proxy;
    return `${tls ? "wss" : "ws"}://${hostname}:${port}${proxy ? ` through proxy ${proxyLabel(proxy)}` : ""}`;
  }

  /** Client to API: its frames are counted as they are written; the relay's own go in between them. */
  async #up(local: Deno.Conn, remote: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(CHUNK);
    let why = "";
    try {
      for (;;) {
        const n = await local.read(buffer);
        // Messages sent before the client wrote this (its close frame, say) or went away go first: a
        // paced write still waiting must not follow the close frame, nor the FIN.
        if (this.#flushScheduled) this.#flush();
        if (n === null) break;
        this.#upBusy = true;
        const chunk = buffer.subarray(0, n);
        this.#scanner.scan(chunk);
        const data = this.#scanner.dataBytes;
        // What the relay holds goes at the first boundary between two of the client's frames.
        const at = this.#held.length > 0 ? this.#scanner.firstBoundary : -1;
        if (at >= 0) {
          if (at > 0) await this.#write(remote, chunk.subarray(0, at));
          this.#writeHeld(remote);
          if (at < n) await this.#write(remote, chunk.subarray(at));
        } else {
          await this.#write(remote, chunk);
        }
        if (data !== this.#written) {
          this.#written = data;
          this.#reportWritten();
        }
        this.#upBusy = false;
        if (this.#held.length > 0 && this.#scanner.atBoundary) this.#writeHeld(remote);
      }
    } catch (err) {
      why = (err as Error).message; // reset or closed: what was written stays written
    }
    this.#upBusy = false;
    // Frames still waiting for a boundary will not be written: their senders hear it (nothing counts them).
    for (const { done } of this.#held.splice(0)) {
      done.reject(new Error("the connection to the API is closed"));
    }
    // Writing failed (the API reset or closed the connection): say so now, so what was written
    // recently (still within ws_ack_delay_ms) is handed back, not acknowledged. Reading may be
    // paused, in which case the close or reset would otherwise stay unread.
    if (why && !this.#aborted) this.#die(`cannot write to the API: ${why}`);
    // Everything the client sent is out: FIN after it, so the API still gets it all.
    await this.#writes.catch(() => {});
    closeWriteQuietly(remote);
    this.#lingerOn();
  }

  /** Writes frames of the relay's own: now if the client is between two frames, else at the next boundary. */
  #inject(remote: Deno.Conn, bytes: Uint8Array, progress?: Progress): Promise<void> {
    if (!this.#upBusy && this.#scanner.atBoundary) return this.#write(remote, bytes, progress);
    const done = Promise.withResolvers<void>();
    this.#held.push({ bytes, done, progress });
    return done.promise;
  }

  #writeHeld(remote: Deno.Conn): void {
    const held = this.#held;
    this.#held = [];
    for (const { bytes, done, progress } of held) {
      this.#write(remote, bytes, progress).then(done.resolve, done.reject);
    }
  }

  /**
   * Writes the messages sent since the last flush, and counts each one written as soon as the
   * socket has taken all of its frame (a batch may be written in several parts).
   */
  #flush(): void {
    this.#flushScheduled = false;
    clearTimeout(this.#flushTimer); // when written early, before a frame of the client's
    this.#flushTimer = undefined;
    const taken = this.#writer.take();
    if (!taken) return;
    this.#pacer.wrote(performance.now(), taken.frameEnds.length, taken.payloadBytes);
    const remote = this.#remote;
    if (!remote) return this.#die("messages were sent before the connection to the API was made");
    let frames = 0;
    let counted = 0;
    const progress = (written: number) => {
      while (frames < taken.frameEnds.length && taken.frameEnds[frames]! <= written) frames++;
      const payload = frames > 0 ? taken.payloadEnds[frames - 1]! : 0;
      if (payload === counted) return;
      this.#directWritten += payload - counted;
      counted = payload;
      this.#reportWritten();
    };
    this.#inject(remote, taken.bytes, progress).then(() => this.#writer.release(taken.bytes), (err) => {
      if (!this.#aborted) this.#die(`cannot write to the API: ${(err as Error).message}`);
    });
  }

  /** Tells the client how much is written; a failure of its handler gives the connection up, said why. */
  #reportWritten(): void {
    try {
      this.#events.onWritten(this.writtenBytes);
    } catch (err) {
      this.#die(`the bridge failed on a written notice: ${(err as Error).message}`);
    }
  }

  #deliver(data: Uint8Array, text: boolean): void {
    if (!this.#onMessage) return void this.#early.push([data, text]);
    try {
      this.#onMessage(data, text);
    } catch (err) {
      // A fault of the bridge's, not the API's: reading goes on, the connection is given up and replaced.
      this.#die(`the bridge failed to take a message: ${(err as Error).message}`);
    }
  }

  /** API to client, paused while the bridge cannot take more. */
  async #down(remote: Deno.Conn, local: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(CHUNK);
    try {
      for (;;) {
        if (this.#paused) await this.#paused.promise;
        const n = await remote.read(buffer);
        if (n === null) break;
        this.#lastReadAt = performance.now();
        this.#pingOutstanding = false;
        // Messages go to the bridge now; the head and control frames to the client, in order.
        const forward = this.#reader.read(buffer.subarray(0, n));
        // Liveness starts with the handshake's answer: no ping may precede it (RFC 6455 4.1).
        if (this.#watchdog === undefined && this.#reader.inFrames) this.#startWatchdog();
        for (const piece of forward) {
          for (let off = 0; off < piece.length;) off += await local.write(piece.subarray(off));
        }
      }
    } catch {
      // reset or closed
    }
    closeWriteQuietly(local); // the client sees the end after everything read
    this.#lingerOn();
  }

  /** Writes to the API one buffer at a time (pings never land inside a frame). */
  #write(remote: Deno.Conn, bytes: Uint8Array, progress?: Progress): Promise<void> {
    const write = this.#writes.then(async () => {
      this.#writing = true;
      try {
        for (let off = 0; off < bytes.length;) {
          const started = performance.now();
          off += await remote.write(bytes.subarray(off));
          progress?.(off);
          this.#lastWriteAt = performance.now();
          // A write that had to wait completed: the API's side took bytes, so it reads.
          if (this.#lastWriteAt - started > WAITED_MS) this.#lastDrainAt = this.#lastWriteAt;
        }
      } finally {
        this.#writing = false;
      }
    });
    this.#writes = write.catch(() => {});
    return write;
  }

  #ping(remote: Deno.Conn): void {
    this.#pingOutstanding = true;
    const payload = new TextEncoder().encode(`mq2wsb${++this.#pings}`);
    this.#inject(remote, clientPingFrame(payload)).catch(() => {});
  }

  #startWatchdog(): void {
    const interval = this.#options.pingIntervalMs;
    if (interval <= 0 || this.#dead) return;
    this.#lastReadAt = performance.now();
    this.#watchdog = setInterval(() => {
      const verdict = judgeLiveness({
        now: performance.now(),
        lastReadAt: this.#lastReadAt,
        writing: this.#writing,
        lastWriteAt: this.#lastWriteAt,
        lastDrainAt: this.#lastDrainAt,
        pingOutstanding: this.#pingOutstanding,
        paused: this.#paused !== null,
      }, interval);
      if (verdict === "ping") {
        if (!this.#pingOutstanding) this.#ping(this.#remote!); // between two frames (#inject)
      } else if (verdict === "dead") {
        const silent = ((performance.now() - this.#lastReadAt) / 1000).toFixed(1);
        this.#die(
          this.#paused
            ? `nothing written drained for ${silent} s while reading was paused (ws_ping_interval ${
              interval / 1000
            } s)`
            : `nothing received for ${silent} s and nothing written drained (ws_ping_interval ${
              interval / 1000
            } s)`,
        );
      }
    }, Math.max(10, interval / 4));
  }

  /** Tells the client once that this connection is given up for sending. */
  #die(why: string): void {
    if (this.#dead) return;
    this.#dead = true;
    clearInterval(this.#watchdog);
    this.#events.onDead(why);
  }

  /** One direction is over: the other gets a little while to finish, then both are cut. */
  #lingerOn(): void {
    this.abortAfter(LINGER_MS);
  }
}

/** Removes relay directories under `parent` whose process is gone (left by a SIGKILL). */
async function removeStale(parent: string): Promise<void> {
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch {
    return; // unreadable: makeTempDir will say what is wrong
  }
  for (const entry of entries) {
    const match = new RegExp(`^${NAME_PREFIX}(\\d+)-`).exec(entry.name);
    if (!entry.isDirectory || !match || Number(match[1]) === Deno.pid) continue;
    const dir = `${parent}/${entry.name}`;
    if (await ownerGone(dir)) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * True when no process holds the directory's lock any more. A directory of
 * another user (not ours to enter) is never judged gone; one without a lock
 * file is gone only once it is older than a start-up takes.
 */
async function ownerGone(dir: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(`${dir}/${LOCK_FILE}`, { read: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) return false;
    const info = await Deno.stat(dir).catch(() => null);
    return info?.mtime ? Date.now() - info.mtime.getTime() > UNLOCKED_GRACE_MS : false;
  }
  try {
    return await file.tryLock(true); // granted: nobody holds it, the owner is gone
  } catch {
    return false;
  } finally {
    file.close();
  }
}

/** Half-closes `conn` (FIN after what it holds); a socket already closed is no fault. */
function closeWriteQuietly(conn: Deno.Conn): void {
  try {
    conn.closeWrite().catch(() => {});
  } catch {
    // already closed: the runtime may throw at once instead of rejecting
  }
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // already closed
  }
}
