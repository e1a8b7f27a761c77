/**
 * Test fixture: a real WebSocket server on 127.0.0.1, port 0 (or a given one). By default it
 * echoes every message back; it records the requests (to check the token),
 * the messages it received, and lets a test refuse or drop connections and
 * await connections and messages as events.
 */

/** Options for the test server. */
export interface WsServerOptions {
  /** Send every received message back (default true). */
  echo?: boolean;
  /** Close each connection this many ms after it opens. */
  closeAfterMs?: number;
  /** Listen on this port (default 0: one the system picks), e.g. to come back where a server was. */
  port?: number;
}

type Data = string | Uint8Array;

/** `await using server = await startWsServer()` */
export class TestWsServer implements AsyncDisposable {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly sockets = new Set<WebSocket>();
  readonly requests: URL[] = [];
  readonly received: Data[] = [];
  /** Answer upgrade requests with this HTTP status instead of accepting (e.g. 403). */
  refuseWith: number | null = null;
  #connectionWaiters: ((ws: WebSocket) => void)[] = [];
  #messageWaiters: { count: number; resolve: () => void }[] = [];
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #stopping: Promise<void> | null = null;

  constructor(options: WsServerOptions = {}) {
    const echo = options.echo ?? true;
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} }, (req) => {
      this.requests.push(new URL(req.url));
      if (this.refuseWith !== null) return new Response("refused by test", { status: this.refuseWith });
      const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
      socket.binaryType = "arraybuffer";
      socket.onopen = () => {
        this.sockets.add(socket);
        for (const wake of this.#connectionWaiters.splice(0)) wake(socket);
        if (options.closeAfterMs !== undefined) {
          const timer = setTimeout(() => {
            this.#timers.delete(timer);
            if (socket.readyState === WebSocket.OPEN) socket.close(1000, "test closes");
          }, options.closeAfterMs);
          this.#timers.add(timer);
        }
      };
      socket.onmessage = (event) => {
        const data: Data = typeof event.data === "string" ? event.data : new Uint8Array(event.data);
        this.received.push(data);
        if (echo && socket.readyState === WebSocket.OPEN) socket.send(data);
        this.#messageWaiters = this.#messageWaiters.filter((w) => {
          if (this.received.length < w.count) return true;
          w.resolve();
          return false;
        });
      };
      socket.onclose = () => this.sockets.delete(socket);
      socket.onerror = () => {};
      return response;
    });
  }

  /** ws://127.0.0.1:PORT */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** Resolves with the next connection to open (or the current one, if `existing`). */
  nextConnection(ms = 5_000): Promise<WebSocket> {
    return withDeadline(
      new Promise<WebSocket>((resolve) => this.#connectionWaiters.push(resolve)),
      ms,
      "a WebSocket connection",
    );
  }

  /** Resolves once `count` messages in total have been received. */
  receivedCount(count: number, ms = 10_000): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return withDeadline(
      new Promise<void>((resolve) => this.#messageWaiters.push({ count, resolve })),
      ms,
      `${count} messages (have ${this.received.length})`,
    );
  }

  /** The jwt parameter of each request, in order. */
  get tokens(): string[] {
    return this.requests.map((url) => url.searchParams.get("jwt") ?? "");
  }

  /** Closes every open connection from the server side. */
  closeAll(code = 1011, reason = "test drops the connection"): void {
    for (const socket of this.sockets) socket.close(code, reason);
  }

  /** Stops: closes every connection and the listener (the port is free after). Safe twice. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#stopping ??= this.#stop();
  }

  async #stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const socket of this.sockets) socket.close();
    await this.#server.shutdown();
  }
}

/** Starts a test WebSocket server. */
export function startWsServer(options?: WsServerOptions): TestWsServer {
  return new TestWsServer(options);
}

/** Rejects with "Cannot see <what> within N ms" unless `promise` settles first. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Cannot see ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
