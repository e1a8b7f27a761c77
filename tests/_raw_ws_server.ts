/**
 * Test fixture: a WebSocket server written by hand on a plain TCP listener
 * (127.0.0.1, port 0), for what `Deno.serve` hides: it records every frame
 * the client sends, ping frames included, and can leave pings unanswered
 * (a dead peer) or never answer the HTTP upgrade at all (a hung handshake).
 */
import { withDeadline } from "./_ws_server.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** WebSocket opcodes (RFC 6455 section 5.2). */
export const OP = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** One frame received from the client, unmasked. */
export interface Frame {
  opcode: number;
  payload: Uint8Array;
  /** Whether it came masked, as every client frame must (RFC 6455 5.3). */
  masked: boolean;
  /** performance.now() when it was parsed. */
  at: number;
}

/** Options for the raw server. */
export interface RawWsServerOptions {
  /** Answer pings with pongs (default true). */
  answerPings?: boolean;
  /** Complete the HTTP upgrade (default true); false leaves every client waiting. */
  handshake?: boolean;
  /** Answer the client's close frame and end the connection (default true). */
  answerClose?: boolean;
  /** Bytes written together with the 101 answer, in the same write (frames that come with the handshake). */
  greeting?: Uint8Array;
}

/** One accepted TCP connection. */
export class RawConnection {
  readonly frames: Frame[] = [];
  /** performance.now() when the 101 response was written (NaN until then). */
  openedAt = Number.NaN;
  /** Resolves when the TCP connection is gone. */
  readonly ended: Promise<void>;
  readonly #conn: Deno.Conn;
  readonly #server: RawWsServer;
  #waiters: { opcode: number; n: number; resolve: (frame: Frame) => void }[] = [];
  #endWaiters: (() => void)[] = [];
  #closed = false;

  constructor(conn: Deno.Conn, server: RawWsServer) {
    this.#conn = conn;
    this.#server = server;
    this.ended = this.#run().finally(() => {
      this.close();
      for (const wake of this.#endWaiters.splice(0)) wake();
    });
  }

  /** The frames received with `opcode`. */
  framesOf(opcode: number): Frame[] {
    return this.frames.filter((f) => f.opcode === opcode);
  }

  /** Resolves with the `n`-th (1-based) frame with `opcode`, past or future. */
  waitFrame(opcode: number, n = 1, ms = 5_000): Promise<Frame> {
    const seen = this.framesOf(opcode)[n - 1];
    if (seen) return Promise.resolve(seen);
    return withDeadline(
      new Promise<Frame>((resolve) => this.#waiters.push({ opcode, n, resolve })),
      ms,
      `frame #${n} with opcode ${opcode}`,
    );
  }

  /** Resolves when the client (or the server) has closed the TCP connection. */
  waitEnded(ms = 5_000): Promise<void> {
    return withDeadline(this.ended, ms, "the TCP connection to end");
  }

  /** Sends an unmasked server frame. */
  async send(opcode: number, payload: Uint8Array = new Uint8Array()): Promise<void> {
    if (payload.length > 125) throw new Error("the raw test server only sends short frames");
    await this.#write(new Uint8Array([0x80 | opcode, payload.length, ...payload]));
  }

  /** Writes bytes as they are: a malformed frame, garbage, half a header. */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await this.#write(bytes);
  }

  /** Closes the TCP connection without a closing handshake. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
  }

  async #run(): Promise<void> {
    let buffer = new Uint8Array(0);
    let upgraded = false;
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(chunk);
        if (n === null) return;
        const joined = new Uint8Array(buffer.length + n);
        joined.set(buffer);
        joined.set(chunk.subarray(0, n), buffer.length);
        buffer = joined;
        if (!upgraded) {
          const text = new TextDecoder().decode(buffer);
          const end = text.indexOf("\r\n\r\n");
          if (end < 0) continue;
          if (!this.#server.handshake) continue; // hold the client: never answer
          const key = /^sec-websocket-key:\s*(\S+)/im.exec(text.slice(0, end))?.[1] ?? "";
          this.#server.requests.push(text.slice(0, end));
          const head = new TextEncoder().encode(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
              `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n\r\n`,
          );
          const greeting = this.#server.greeting;
          await this.#write(greeting.length ? concatBytes(head, greeting) : head);
          this.openedAt = performance.now();
          upgraded = true;
          buffer = buffer.slice(new TextEncoder().encode(text.slice(0, end + 4)).length);
        }
        for (let frame; (frame = parseFrame(buffer));) {
          buffer = buffer.slice(frame.size);
          if (await this.#onFrame(frame.frame)) return;
        }
      }
    } catch {
      // reset or closed by the test
    }
  }

  /** Handles one frame; true when the connection is finished. */
  async #onFrame(frame: Frame): Promise<boolean> {
    this.frames.push(frame);
    const n = this.framesOf(frame.opcode).length;
    this.#waiters = this.#waiters.filter((w) =>
      !(w.opcode === frame.opcode && w.n === n && (w.resolve(frame), true))
    );
    if (frame.opcode === OP.ping && this.#server.answerPings) await this.send(OP.pong, frame.payload);
    if (frame.opcode === OP.close && this.#server.answerClose) {
      await this.send(OP.close, frame.payload.slice(0, 2));
      return true;
    }
    return false;
  }
}

/** `await using server = startRawWsServer({ answerPings: false })` */
export class RawWsServer implements AsyncDisposable {
  readonly connections: RawConnection[] = [];
  /** The HTTP upgrade requests, head only. */
  readonly requests: string[] = [];
  answerPings: boolean;
  handshake: boolean;
  answerClose: boolean;
  readonly greeting: Uint8Array;
  readonly #listener: Deno.TcpListener;
  readonly #accepting: Promise<void>;
  #waiters: ((conn: RawConnection) => void)[] = [];

  constructor(options: RawWsServerOptions = {}) {
    this.answerPings = options.answerPings ?? true;
    this.handshake = options.handshake ?? true;
    this.answerClose = options.answerClose ?? true;
    this.greeting = options.greeting ?? new Uint8Array(0);
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** ws://127.0.0.1:PORT */
  get url(): string {
    return `ws://127.0.0.1:${this.#listener.addr.port}`;
  }

  /** Resolves with the `index`-th accepted connection (0-based), now or when it arrives. */
  connection(index: number, ms = 5_000): Promise<RawConnection> {
    const check = () => this.connections[index];
    const now = check();
    if (now) return Promise.resolve(now);
    return withDeadline(
      new Promise<RawConnection>((resolve) => {
        const waiter = () => {
          const conn = check();
          if (conn) resolve(conn);
          else this.#waiters.push(waiter);
        };
        this.#waiters.push(waiter);
      }),
      ms,
      `TCP connection #${index + 1}`,
    );
  }

  async #accept(): Promise<void> {
    try {
      for await (const tcp of this.#listener) {
        const conn = new RawConnection(tcp, this);
        this.connections.push(conn);
        for (const wake of this.#waiters.splice(0)) wake(conn);
      }
    } catch {
      // listener closed
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.connections) conn.close();
    await Promise.all(this.connections.map((c) => c.ended));
  }
}

/** Starts a hand-written WebSocket server. */
export function startRawWsServer(options?: RawWsServerOptions): RawWsServer {
  return new RawWsServer(options);
}

/** The Sec-WebSocket-Accept answer to `key`. */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** Parses one complete client frame from the start of `buffer`, or returns null. */
function parseFrame(buffer: Uint8Array): { frame: Frame; size: number } | null {
  if (buffer.length < 2) return null;
  const opcode = buffer[0]! & 0x0f;
  const masked = (buffer[1]! & 0x80) !== 0;
  let length = buffer[1]! & 0x7f;
  let offset = 2;
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = view.getUint16(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(view.getBigUint64(2));
    offset = 10;
  }
  const maskAt = offset;
  if (masked) offset += 4;
  if (buffer.length < offset + length) return null;
  const payload = buffer.slice(offset, offset + length);
  if (masked) {
    for (let i = 0; i < payload.length; i++) payload[i]! ^= buffer[maskAt + (i % 4)]!;
  }
  return { frame: { opcode, payload, masked, at: performance.now() }, size: offset + length };
}

/**
 * A frame as a server writes it, of any length (unmasked unless `maskKey`, FIN unless `fin: false`,
 * `rsv` the three reserved bits): for sendRaw(), and for tests of the relay's reader.
 */
export function serverFrame(
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; rsv?: number; maskKey?: Uint8Array } = {},
): Uint8Array {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65_536 ? 2 : 8;
  const key = options.maskKey;
  const out = new Uint8Array(2 + ext + (key ? 4 : 0) + n);
  out[0] = (options.fin === false ? 0 : 0x80) | ((options.rsv ?? 0) << 4) | opcode;
  out[1] = (key ? 0x80 : 0) | (ext === 0 ? n : ext === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (ext === 2) view.setUint16(2, n);
  if (ext === 8) view.setBigUint64(2, BigInt(n));
  const at = 2 + ext;
  if (key) out.set(key, at);
  out.set(key ? payload.map((b, i) => b ^ key[i % 4]!) : payload, at + (key ? 4 : 0));
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const part of parts) out.set(part, (off += part.length) - part.length);
  return out;
}
