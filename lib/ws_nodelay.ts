/**
 * Deno runtime adapter: a WebSocket client connection without Nagle's delay.
 *
 * Deno's WebSocket client never sets TCP_NODELAY and writes a frame larger
 * than about 1 KiB as two writes (header, then payload). With Nagle's
 * algorithm on, the payload waits until the peer acknowledges the header,
 * and the peer delays that ACK by up to 40 ms: measured here, a 16 KiB
 * message took 44 ms to go to an echo server and back (88 ms over TLS)
 * instead of 0.3 ms. Neither the WebSocket nor Deno.createHttpClient can
 * set the option.
 *
 * So the client is given a Deno.HttpClient whose connections go to a Unix
 * socket in a private directory (no Nagle there), where this relay accepts
 * them and carries the bytes to the API over a TCP connection with
 * TCP_NODELAY set. For wss:// the relay makes the TLS connection itself
 * (Deno.startTls on the no-delay socket, certificate checked against the
 * system store or `caCerts`) and the client speaks plain HTTP/WebSocket to
 * the relay: Deno's client will not run TLS through a custom socket without
 * HTTP/2. The URL (with its token) only ever crosses the private socket.
 */

/** Where the API is: host, port, and whether to speak TLS to it. */
interface Target {
  hostname: string;
  port: number;
  tls: boolean;
}

/** How to open a WebSocket through the relay: a rewritten URL and the client option. */
export interface Route {
  url: string;
  options: { client: Deno.HttpClient };
}

/** A relay for one API host; close it when the WebSocket client stops. */
export class NoDelayRelay implements AsyncDisposable {
  readonly #listener: Deno.Listener;
  readonly #dir: string;
  readonly #target: Target;
  readonly #caCerts: string[] | undefined;
  readonly #client: Deno.HttpClient;
  readonly #open = new Set<Deno.Conn>();
  readonly #pipes = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  /** Why the last connection to the API failed (read and cleared by `takeError`). */
  #lastError: string | null = null;
  #closing: Promise<void> | null = null;

  private constructor(dir: string, listener: Deno.Listener, target: Target, caCerts: string[] | undefined) {
    this.#dir = dir;
    this.#listener = listener;
    this.#target = target;
    this.#caCerts = caCerts;
    const path = (listener.addr as Deno.UnixAddr).path;
    this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
    this.#accepting = this.#accept();
  }

  /**
   * Opens a relay to the host of `apiHost` (`ws://` or `wss://`) in a new
   * private directory under `tmpDir`. Throws when the runtime will not let us
   * (no permission to create the socket): the caller connects directly then.
   */
  static async open(
    apiHost: string,
    options: { caCerts?: string[]; tmpDir?: string } = {},
  ): Promise<NoDelayRelay> {
    const url = new URL(apiHost);
    const tls = url.protocol === "wss:";
    const target = {
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port) || (tls ? 443 : 80),
      tls,
    };
    const dir = await Deno.makeTempDir({ dir: options.tmpDir ?? "/tmp", prefix: "mq2wsbridge-ws-" });
    try {
      await Deno.chmod(dir, 0o700); // the socket carries the token in clear: ours alone
      const listener = Deno.listen({ transport: "unix", path: `${dir}/ws.sock` });
      return new NoDelayRelay(dir, listener, target, options.caCerts);
    } catch (err) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw err;
    }
  }

  /** Where the relay listens (inside its private directory). */
  get socketPath(): string {
    return (this.#listener.addr as Deno.UnixAddr).path;
  }

  /** The URL and client option to open `url` through the relay. */
  route(url: string): Route {
    const plain = new URL(url);
    plain.protocol = "ws:"; // TLS, if any, is the relay's job
    return { url: plain.href, options: { client: this.#client } };
  }

  /** Why the relay could not reach the API on the last attempt, if it could not. */
  takeError(): string | null {
    const error = this.#lastError;
    this.#lastError = null;
    return error;
  }

  /** Stops accepting, closes every relayed connection and removes the socket. Safe twice. */
  close(): Promise<void> {
    return this.#closing ??= this.#doClose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #doClose(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#open) closeQuietly(conn);
    await Promise.all(this.#pipes);
    this.#client.close();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  async #accept(): Promise<void> {
    try {
      for await (const local of this.#listener) {
        const pipe = this.#relay(local);
        this.#pipes.add(pipe);
        pipe.finally(() => this.#pipes.delete(pipe));
      }
    } catch {
      // the listener was closed
    }
  }

  async #relay(local: Deno.Conn): Promise<void> {
    this.#open.add(local);
    let remote: Deno.Conn | null = null;
    try {
      remote = await this.#connect();
      this.#open.add(remote);
      const [a, b] = [local, remote];
      // Either direction ending (or failing) ends the relayed connection, both ways.
      await Promise.race([copy(a, b), copy(b, a)]);
    } catch (err) {
      const { hostname, port, tls } = this.#target;
      this.#lastError = `cannot reach ${tls ? "wss" : "ws"}://${hostname}:${port}: ${(err as Error).message}`;
    } finally {
      for (const conn of [local, remote]) {
        if (!conn) continue;
        closeQuietly(conn);
        this.#open.delete(conn);
      }
    }
  }

  async #connect(): Promise<Deno.Conn> {
    const { hostname, port, tls } = this.#target;
    const tcp = await Deno.connect({ hostname, port });
    tcp.setNoDelay(true);
    if (!tls) return tcp;
    let secure: Deno.TlsConn;
    try {
      secure = await Deno.startTls(tcp, { hostname, ...(this.#caCerts ? { caCerts: this.#caCerts } : {}) });
    } catch (err) {
      closeQuietly(tcp);
      throw err;
    }
    try {
      await secure.handshake();
      return secure;
    } catch (err) {
      closeQuietly(secure); // startTls took the TCP connection over: close the TLS one
      throw err;
    }
  }
}

/** Copies `from` to `to` until `from` ends or either fails. */
async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) return;
      for (let off = 0; off < n;) off += await to.write(buffer.subarray(off, n));
    }
  } catch {
    // reset or closed: the connection is over either way
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
