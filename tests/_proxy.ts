/**
 * Test fixture: a TCP forwarder on 127.0.0.1, port 0, in front of a real
 * service (the broker, a WebSocket server). A test can cut every connection
 * abruptly, refuse new ones (the service looks down), or stop reading (a
 * slow peer): failures that cannot be produced with the service itself.
 */

/** `await using proxy = startProxy(5672)` */
export class TcpProxy implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #target: number;
  readonly #conns = new Set<Deno.Conn>();
  readonly #pipes = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  /** While true, new connections are closed at once. */
  refusing = false;
  #paused: PromiseWithResolvers<void> | null = null;
  /** Connections accepted so far. */
  accepted = 0;

  constructor(targetPort: number) {
    this.#target = targetPort;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  /** Closes every open connection, both sides, without a goodbye. */
  cutAll(): void {
    for (const conn of this.#conns) closeQuietly(conn);
    this.#conns.clear();
  }

  /** Stops moving bytes from clients to the service (the service seems not to read). */
  pause(): void {
    this.#paused ??= Promise.withResolvers<void>();
  }

  resume(): void {
    this.#paused?.resolve();
    this.#paused = null;
  }

  async #accept(): Promise<void> {
    for await (const client of this.#listener) {
      this.accepted++;
      if (this.refusing) {
        closeQuietly(client);
        continue;
      }
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
      } catch {
        closeQuietly(client);
        continue;
      }
      this.#conns.add(client);
      this.#conns.add(upstream);
      const both = Promise.all([this.#pipe(client, upstream, true), this.#pipe(upstream, client, false)])
        .then(() => {
          this.#conns.delete(client);
          this.#conns.delete(upstream);
          closeQuietly(client);
          closeQuietly(upstream);
        });
      this.#pipes.add(both);
      both.finally(() => this.#pipes.delete(both));
    }
  }

  async #pipe(from: Deno.Conn, to: Deno.Conn, pausable: boolean): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        if (pausable && this.#paused) await this.#paused.promise;
        const n = await from.read(buffer);
        if (n === null) break;
        for (let off = 0; off < n;) off += await to.write(buffer.subarray(off, n));
      }
    } catch {
      // cut or reset: the other direction notices on its own
    }
    closeQuietly(to);
    closeQuietly(from);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.resume();
    this.#listener.close();
    await this.#accepting.catch(() => {});
    this.cutAll();
    await Promise.all(this.#pipes);
  }
}

/** Starts a forwarder to 127.0.0.1:`targetPort`. */
export function startProxy(targetPort: number): TcpProxy {
  return new TcpProxy(targetPort);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
