/**
 * A WebSocket echo endpoint: every message comes straight back on the same
 * connection. The stand-in for the real WebSocket API in the demo, the
 * benchmark and the chaos suite. Run alone it prints `listening on PORT`
 * and serves until killed:
 *
 *   deno run --allow-net tools/echo_server.ts [--port N] [--verbose]
 */
import { parseArgs } from "node:util";

/** A running echo endpoint. */
export interface EchoServer extends AsyncDisposable {
  port: number;
  url: string;
  /** Messages echoed so far. */
  readonly echoed: number;
}

/** Starts an echo endpoint on 127.0.0.1; `onMessage` sees each message first. */
export function startEchoServer(
  options: { port?: number; onMessage?: ((data: string | ArrayBuffer) => void) | undefined } = {},
): EchoServer {
  let echoed = 0;
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response("WebSocket only", { status: 426 });
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    socket.binaryType = "arraybuffer";
    socket.onopen = () => sockets.add(socket);
    socket.onmessage = (event) => {
      options.onMessage?.(event.data);
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(event.data);
        echoed++;
      }
    };
    socket.onclose = () => sockets.delete(socket);
    socket.onerror = () => {};
    return response;
  });
  return {
    port: server.addr.port,
    url: `ws://127.0.0.1:${server.addr.port}`,
    get echoed() {
      return echoed;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.close(1001, "echo server stopping");
      await server.shutdown();
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "0" }, verbose: { type: "boolean", short: "v" } },
  });
  const server = startEchoServer({
    port: Number(values.port),
    onMessage: values.verbose
      // deno-lint-ignore no-console
      ? (data) => console.log(`echo: ${typeof data === "string" ? data : `${data.byteLength} bytes`}`)
      : undefined,
  });
  // deno-lint-ignore no-console
  console.log(`listening on ${server.port}`);
}
