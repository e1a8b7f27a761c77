/**
 * `deno task bench:scrape [SIZE] [COUNT] [ROUNDS]`: what serving /metrics and
 * /ready costs the message path. One bridge (the WebSocket path, through the
 * echo server) with its HTTP endpoint on, and floods from bridgetester,
 * alternately with and without a scraper fetching /metrics and /ready once a
 * second (off-on, on-off, ... so drift hits both alike). The same process for
 * both halves, so only the scraping differs. Prints each run and the medians.
 */
import { denoScript } from "../tools/program.ts";
import { permissionsOf } from "../scripts/programs.ts";
import { print } from "../lib/print.ts";

const AMQP_URL = Deno.env.get("AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672";
const size = Number(Deno.args[0] ?? 16384);
const count = Number(Deno.args[1] ?? (size <= 1024 ? 50_000 : 12_000));
const rounds = Number(Deno.args[2] ?? 4);

const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-bench-scrape-" });
const id = crypto.randomUUID().slice(0, 8);
const [toWs, fromWs] = [`bench.${id}.scrape.to_ws`, `bench.${id}.scrape.from_ws`];
await using echo = denoScript("tools/echo_server.ts", ["--allow-net"], ["--port", "0"]);
const port = Number((await echo.waitForLine(/^listening on \d+/)).split(" ").at(-1));
const ini = `${dir}/bridge.ini`;
await Deno.writeTextFile(
  ini,
  `[ws_api]\nclient_id = bench\nclient_secret = 0123456789abcdef0123456789abcdef\n` +
    `api_host = ws://127.0.0.1:${port}\napi_uri = /bench\n` +
    `[aws_mq]\nmq_url = ${AMQP_URL}\nmq_qname_to_ws = ${toWs}\nmq_qname_from_ws = ${fromWs}\n`,
  { mode: 0o600 },
);
await using bridge = denoScript("main.ts", permissionsOf("mq2wsbridge"), [
  "-c",
  ini,
  "-v",
  "--http-listen",
  "127.0.0.1:0",
]);
try {
  const address = / address=(\S+)/.exec(await bridge.waitForLine(/HTTP endpoint listening/))![1];
  await bridge.waitForLine(/Bridging/);
  const runs: Record<"off" | "on", number[]> = { off: [], on: [] };
  let scrapes = 0;
  let lost = 0;
  for (let round = 0; round < rounds; round++) {
    for (const mode of round % 2 ? ["on", "off"] as const : ["off", "on"] as const) {
      const timer = mode === "on"
        ? setInterval(async () => {
          for (const path of ["/metrics", "/ready"]) {
            await (await fetch(`http://${address}${path}`)).arrayBuffer();
            scrapes++;
          }
        }, 1000)
        : undefined;
      const json = `${dir}/run.json`;
      const args = [
        "-c",
        ini,
        "-q",
        "-n",
        `${count}`,
        "-d",
        "0",
        "--size",
        `${size}`,
        "-e",
        "60",
        "--json",
        json,
      ];
      await using tester = denoScript("tester.ts", permissionsOf("bridgetester"), args);
      await tester.exit(600_000);
      clearInterval(timer);
      const summary = JSON.parse(await Deno.readTextFile(json));
      const rate = Math.round(summary.throughput.reconciledPerSec);
      runs[mode].push(rate);
      lost += summary.lost;
      print(`scrape ${mode.padEnd(3)} ${size} B  ${rate} msg/s  lost ${summary.lost}`);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  print(
    `\n${size} B, ${count} messages x ${rounds} each: without scraping median ${median(runs.off)} msg/s ` +
      `(${runs.off.join(", ")}), scraped every second median ${median(runs.on)} msg/s (${
        runs.on.join(", ")
      }); ` +
      `${scrapes} scrapes; lost ${lost}`,
  );
  if (lost > 0) Deno.exitCode = 1;
} finally {
  bridge.kill("SIGTERM");
  await bridge.exit(15_000);
  const amqp = (await import("amqplib")).default;
  const conn = await amqp.connect(AMQP_URL);
  const channel = await conn.createChannel();
  for (const queue of [toWs, fromWs]) await channel.deleteQueue(queue);
  await conn.close();
  await Deno.remove(dir, { recursive: true });
}
