/**
 * A WebSocket API stand-in for the chaos suite, run as its own process so
 * it can be SIGSTOPped, SIGCONTed and SIGKILLed like a real API. One
 * listener on 127.0.0.1:
 *
 * - any path but /control: a WebSocket. Every message received is counted
 *   by its numbered body (tools/api_counts.ts) and, with --echo, sent
 *   straight back. The API can also send numbered messages of its own to the
 *   connected bridge (tools/api_sender.ts).
 * - /control/...: JSON, for the harness (chaos/api_process.ts):
 *   GET  /control/status                       connections, sender, receipt totals
 *   POST /control/send   {prefix,count,bytes,rate,from?}   start sending (409 if sending)
 *   POST /control/stop                         stop sending; returns the sender's state
 *   GET  /control/sent[?detail=1]              what the API believes it sent (+ send times)
 *   GET  /control/received?prefix=P&count=N[&detail=1]   distinct, duplicates, missing
 *   POST /control/wait   {until,n,prefix?,timeoutMs}      long poll: until "sent" (index n
 *                        sent, or the sender done), "received" (distinct of prefix) >= n,
 *                        "highest" (index of prefix received) >= n, or "connections"
 *                        (ever opened) >= n
 *
 * Times are epoch milliseconds (performance.timeOrigin + now), so another
 * process on the machine can place them on its own clock. Run alone it
 * prints `listening on PORT` and serves until killed:
 *
 *   deno run --allow-net tools/api_server.ts [--port N] [--echo]
 */
import { parseArgs } from "node:util";
import { Receipts } from "./api_counts.ts";
import { NumberedSender, type SendPlan } from "./api_sender.ts";

/** A running API stand-in. */
export interface ApiServer extends AsyncDisposable {
  port: number;
}

interface Waiter {
  test: () => boolean;
  resolve: (ok: boolean) => void;
}

/** Starts the API stand-in on 127.0.0.1 (`port` 0: any). */
export function startApiServer(options: { port?: number; echo?: boolean } = {}): ApiServer {
  const echo = options.echo ?? false;
  const receipts = new Receipts();
  const sockets = new Set<WebSocket>();
  let newest: WebSocket | null = null;
  let connections = 0;
  let echoed = 0;
  let sender: NumberedSender | null = null;
  let waiters: Waiter[] = [];
  const openWaiters: (() => void)[] = [];
  const check = () => {
    if (waiters.length > 0) waiters = waiters.filter((w) => !(w.test() && (w.resolve(true), true)));
  };
  const source = {
    current: () => newest,
    opened: (signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        openWaiters.push(resolve);
        signal.addEventListener("abort", () => resolve(), { once: true });
      }),
  };

  const onSocket = (socket: WebSocket) => {
    socket.binaryType = "arraybuffer";
    const latin1 = new TextDecoder("latin1");
    socket.onopen = () => {
      sockets.add(socket);
      newest = socket;
      connections++;
      for (const wake of openWaiters.splice(0)) wake();
      check();
    };
    socket.onmessage = (event) => {
      const data = event.data as string | ArrayBuffer;
      const head = typeof data === "string"
        ? data.slice(0, 64)
        : latin1.decode(new Uint8Array(data, 0, Math.min(64, data.byteLength)));
      receipts.add(head, performance.timeOrigin + performance.now());
      if (echo && socket.readyState === WebSocket.OPEN) {
        socket.send(data);
        echoed++;
      }
      check();
    };
    socket.onclose = () => {
      sockets.delete(socket);
      if (newest === socket) newest = [...sockets].at(-1) ?? null;
      check();
    };
    socket.onerror = () => {};
  };

  const status = () => ({
    connections,
    open: sockets.size,
    bufferedAmount: newest?.bufferedAmount ?? 0,
    echo,
    echoed,
    received: { total: receipts.total, foreign: receipts.foreign, prefixes: receipts.prefixes() },
    sender: sender?.state() ?? null,
  });

  const control = async (req: Request, url: URL): Promise<Response> => {
    const path = url.pathname.slice("/control/".length);
    const detail = url.searchParams.get("detail") === "1";
    if (req.method === "GET" && path === "status") return json(status());
    if (req.method === "POST" && path === "send") {
      if (sender && !sender.done) return json({ error: "Cannot start sending: already sending" }, 409);
      const plan = await req.json() as SendPlan;
      const problem = planProblem(plan);
      if (problem) return json({ error: `Cannot start sending: ${problem}` }, 400);
      sender = new NumberedSender(plan, source, check);
      return json(sender.state());
    }
    if (req.method === "POST" && path === "stop") {
      await sender?.stop();
      return json(sender?.state() ?? null);
    }
    if (req.method === "GET" && path === "sent") {
      if (!sender) return json(null);
      const sentAt = detail ? [...sender.sentAt].map((t) => Number.isNaN(t) ? null : t) : undefined;
      return json({ ...sender.state(), ...(sentAt ? { sentAt } : {}) });
    }
    if (req.method === "GET" && path === "received") {
      const prefix = url.searchParams.get("prefix") ?? "";
      const count = Number(url.searchParams.get("count"));
      if (!prefix.endsWith("#") || !Number.isInteger(count) || count < 0) {
        return json({ error: `Cannot count receipts: prefix must end in "#", count be an integer` }, 400);
      }
      const of = receipts.of(prefix);
      return json({ prefix, ...of.summary(count), ...(detail ? of.detail(count) : {}) });
    }
    if (req.method === "POST" && path === "wait") {
      const { until, n, prefix, timeoutMs } = await req.json() as {
        until: "sent" | "received" | "highest" | "connections";
        n: number;
        prefix?: string;
        timeoutMs: number;
      };
      const test = until === "sent"
        ? () => sender !== null && (sender.next > n || sender.done)
        : until === "received"
        ? () => receipts.of(prefix ?? "").distinct >= n
        : until === "highest"
        ? () => receipts.of(prefix ?? "").max >= n
        : () => connections >= n;
      const ok = await waitFor(test, timeoutMs);
      return json({ ok, ...status() });
    }
    return json({ error: `No control endpoint ${req.method} ${url.pathname}` }, 404);
  };

  const waitFor = (test: () => boolean, ms: number): Promise<boolean> => {
    if (test()) return Promise.resolve(true);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    const waiter = { test, resolve: (ok: boolean) => (clearTimeout(timer), resolve(ok)) };
    const timer = setTimeout(() => {
      waiters = waiters.filter((w) => w !== waiter);
      resolve(false);
    }, ms);
    waiters.push(waiter);
    return promise;
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/control/")) return control(req, url);
    if (req.headers.get("upgrade") !== "websocket") return new Response("WebSocket only", { status: 426 });
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    onSocket(socket);
    return response;
  });
  return {
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      await sender?.stop();
      for (const w of waiters) w.resolve(false);
      for (const socket of sockets) socket.close(1001, "API stand-in stopping");
      await server.shutdown();
    },
  };
}

function planProblem(plan: SendPlan): string | null {
  if (typeof plan.prefix !== "string" || !plan.prefix.endsWith("#")) return `prefix must end in "#"`;
  for (const key of ["count", "bytes", "rate"] as const) {
    if (!Number.isInteger(plan[key]) || plan[key] < 0) {
      return `${key} must be an integer >= 0: "${plan[key]}"`;
    }
  }
  if (plan.from !== undefined && !(Number.isInteger(plan.from) && plan.from >= 1)) {
    return `from must be an integer >= 1: "${plan.from}"`;
  }
  return null;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "0" }, echo: { type: "boolean", default: false } },
  });
  const server = startApiServer({ port: Number(values.port), echo: values.echo });
  // deno-lint-ignore no-console
  console.log(`listening on ${server.port}`);
}
