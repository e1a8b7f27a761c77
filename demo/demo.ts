/**
 * The demo (`deno task demo`): the real mq2wsbridge program, run as a
 * process against the local RabbitMQ and a local WebSocket echo endpoint,
 * with messages visibly going through both ways, then 10,000 more counted
 * in and out, then a clean shutdown. Queues are unique to the run and
 * deleted at the end. AMQP_URL overrides the broker
 * (default amqp://guest:guest@127.0.0.1:5672).
 */
import { Buffer } from "node:buffer";
import { type MqDelivery, MqSession } from "../handlers/mq/session.ts";
import { createLogger, MemorySink } from "../lib/log.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { redactUrl, Secret } from "../lib/secret.ts";
import { startEchoServer } from "../tools/echo_server.ts";
import { permissionsOf } from "../scripts/programs.ts";
import { print } from "../lib/print.ts";

const AMQP_URL = Deno.env.get("AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672";
const BULK = 10_000;
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Counts what arrives on from_ws; `until(n)` resolves once n distinct bodies have. */
class Replies {
  readonly counts = new Map<string, number>();
  #waiter: { n: number; resolve: () => void } | null = null;

  add(delivery: MqDelivery): void {
    const body = delivery.body.toString();
    this.counts.set(body, (this.counts.get(body) ?? 0) + 1);
    if (this.#waiter && this.counts.size >= this.#waiter.n) this.#waiter.resolve();
  }

  async until(n: number, ms = 30_000): Promise<void> {
    if (this.counts.size >= n) return;
    const done = Promise.withResolvers<void>();
    this.#waiter = { n, resolve: done.resolve };
    const timer = setTimeout(
      () => done.reject(new Error(`only ${this.counts.size} of ${n} replies in ${ms} ms`)),
      ms,
    );
    await done.promise.finally(() => clearTimeout(timer));
  }
}

async function demo(): Promise<number> {
  const id = crypto.randomUUID().slice(0, 8);
  const toWs = `demo.to_ws.${id}`;
  const fromWs = `demo.from_ws.${id}`;
  const mq = new MqSession({
    url: new Secret(AMQP_URL),
    displayUrl: redactUrl(AMQP_URL),
    queues: [toWs, fromWs],
    prefetch: 2000,
    heartbeatSecs: 30,
    maxConnectAttempts: 1,
    reconnectDelaySecs: 0,
    connectionName: `mq2wsbridge demo ${id}`,
  }, {
    log: createLogger({ sink: new MemorySink(), info: false, debug: false }),
    metrics: new MetricsRegistry(),
  });
  try {
    await mq.start();
  } catch {
    print(
      `Cannot reach RabbitMQ at ${redactUrl(AMQP_URL)}: start it (rabbitmq-server -detached) or set AMQP_URL`,
    );
    return 1;
  }
  let shown = 0;
  await using echo = startEchoServer({
    onMessage: (data) => shown++ < 5 && print(`  ⇄ echo endpoint got "${data}"`),
  });
  const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-demo-" });
  const ini = `${dir}/mq2wsbridge.ini`;
  await Deno.writeTextFile(ini, iniText(echo.url, toWs, fromWs), { mode: 0o600 });
  print(`Broker ${redactUrl(AMQP_URL)}; WebSocket echo endpoint ${echo.url}`);
  print(`Starting the bridge: mq2wsbridge -c ${ini} -v\n`);
  const bridge = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissionsOf("mq2wsbridge"), MAIN, "-c", ini, "-v"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const bridging = Promise.withResolvers<void>();
  const output = (async () => {
    for await (const line of lines(bridge.stdout)) {
      print(`  [bridge] ${line}`);
      if (line.includes("Bridging")) bridging.resolve();
    }
    bridging.reject(new Error("the bridge exited before it was bridging"));
  })();

  const replies = new Replies();
  await mq.startConsumer(fromWs, "demo", (d) => {
    replies.add(d);
    mq.ack(d);
  });
  const publish = (body: string) => mq.publish(toWs, Buffer.from(body), { contentType: "text/plain" });
  try {
    await bridging.promise;
    print("\n1. Five messages, one at a time: to_ws queue → bridge → WebSocket → bridge → from_ws queue");
    for (let i = 1; i <= 5; i++) {
      const start = performance.now();
      await publish(`hello #${i}`);
      await replies.until(i);
      print(
        `  → "hello #${i}" published to ${toWs}, came back on ${fromWs} in ${
          (performance.now() - start).toFixed(1)
        } ms`,
      );
    }
    print(`\n2. ${BULK.toLocaleString("en")} messages published at once, counted in and out`);
    const start = performance.now();
    await Promise.all(Array.from({ length: BULK }, (_, i) => publish(`bulk #${i}`)));
    await replies.until(5 + BULK);
    const secs = (performance.now() - start) / 1000;
    const bulk = [...replies.counts].filter(([body]) => body.startsWith("bulk #"));
    const duplicates = bulk.reduce((n, [, count]) => n + count - 1, 0);
    print(
      `  sent ${BULK}, came back ${bulk.length} distinct, lost ${
        BULK - bulk.length
      }, duplicates ${duplicates}; ` +
        `${(BULK / secs).toFixed(0)} msg/s round trip`,
    );
    print("\n3. Stopping the bridge with SIGTERM");
  } finally {
    bridge.kill("SIGTERM");
    const status = await bridge.status;
    await output.catch(() => {});
    print(`  mq2wsbridge exited with status ${status.code}`);
    await mq.stopConsumer();
    await mq.deleteQueue(toWs);
    await mq.deleteQueue(fromWs);
    await mq.close();
    await Deno.remove(dir, { recursive: true });
    print(`  deleted ${toWs}, ${fromWs} and the demo's INI file`);
  }
  return 0;
}

function iniText(wsUrl: string, toWs: string, fromWs: string): string {
  return `[ws_api]
client_id = demo
client_secret = 0123456789abcdef0123456789abcdef
api_host = ${wsUrl}
api_uri = /demo
[aws_mq]
mq_url = ${AMQP_URL}
mq_qname_to_ws = ${toWs}
mq_qname_from_ws = ${fromWs}
mq_ttl_from_ws = 60000
`;
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}

if (import.meta.main) Deno.exit(await demo());
