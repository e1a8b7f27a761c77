/**
 * `deno task bench`: in one run on the local broker, measures side by side
 *
 * - the baseline: a minimal AMQP forwarder (bench/forwarder.ts), what the
 *   broker allows here;
 * - the bridge in stub mode (`mq2wsbridge -X`);
 * - the bridge through a WebSocket echo server (tools/echo_server.ts), with
 *   the relay with `ws_no_delay = true` (the default) and `false`;
 *
 * each for 100 B and 16 KiB messages, as throughput (bridgetester at full
 * speed, `-d 0`; median of interleaved repeats) and latency (bridgetester at
 * a fixed moderate rate; the run with the median p99 of interleaved repeats).
 * All are separate processes, as in production. For each path it also reads
 * from /proc what its process cost (bench/procstat.ts): CPU seconds per
 * 10,000 messages over the throughput runs, and resident memory (VmRSS) at
 * start, after each size's runs and after 30 s idle at the end. It prints a table and writes
 * bench/results.json and bench/results.md.
 *
 * Options: --quick (fewer messages, one repeat; writes bench/results-quick.*),
 * --sizes 100,16384, and for tuning --prefetch N (every path; default 2000,
 * the bridge's) and --set SECTION.KEY=VALUE (repeatable; added to the
 * bridges' INI files). A tuning run writes bench/results[-quick]-tuning.*,
 * so the reference stays put. --scrape starts every bridge with its HTTP
 * endpoint on (`--http-listen 127.0.0.1:0`) and fetches `/metrics` and
 * `/ready` from each once a second throughout, as a Prometheus and a load
 * balancer would (writes bench/results[-quick]-scrape.*, to compare).
 */
import { parseArgs } from "node:util";
import { denoScript, type Program } from "../tools/program.ts";
import { permissionsOf } from "../scripts/programs.ts";
import { type BenchRow, markdownTable, median, type Memory, type Path, type Run } from "./report.ts";
import { clockTicks, CpuMeter, memoryOf } from "./procstat.ts";
import { print } from "../lib/print.ts";

const AMQP_URL = Deno.env.get("AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672";
const TTL_MS = 300_000;
const LATENCY_RATE = 500; // messages per second: moderate, below what every path sustains
const BRIDGE = permissionsOf("mq2wsbridge");
const TESTER = permissionsOf("bridgetester");
const PATHS: Path[] = ["baseline", "stub", "echo", "echoDirect"];

const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    sizes: { type: "string" },
    prefetch: { type: "string" },
    set: { type: "string", multiple: true },
    scrape: { type: "boolean" },
  },
});
/** Every bridge serves /metrics and /ready, fetched once a second. */
const scrape = values.scrape ?? false;
const quick = values.quick ?? false;
const sizes = (values.sizes ?? "100,16384").split(",").map(Number);
/** Prefetch of every path, the baseline's included. */
const PREFETCH = Number(values.prefetch ?? 2000);
/** Tuning: `--set section.key=value` lines added to the bridges' INI files. */
const overrides = (values.set ?? []).map(parseOverride);
/** A tuning run (other settings than the defaults) writes its own results files. */
const suffix = (quick ? "-quick" : "") + (values.prefetch || overrides.length ? "-tuning" : "") +
  (scrape ? "-scrape" : "");
const repeats = quick ? 1 : 3;
/** Messages per throughput run: enough for several seconds at full speed. */
const floodCount = (size: number) => (quick ? 5_000 : size <= 1024 ? 50_000 : 12_000);
const latencyCount = quick ? 1_000 : 3_000;
/** Idle time after the last run before the settled RSS is read. */
const SETTLE_MS = 30_000;

const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-bench-" });
const id = crypto.randomUUID().slice(0, 8);
const running: Program[] = [];
const queues: string[] = [];
const scraper = {
  timer: undefined as ReturnType<typeof setInterval> | undefined,
  scrapes: 0,
  failures: 0,
  endpoints: [] as string[],
};
try {
  const { inis, pids } = await startPaths();
  if (scrape) scraper.timer = setInterval(scrapeAll, 1000);
  const ticks = await clockTicks();
  const startMemory = await memoryByPath(pids);
  const rows: BenchRow[] = [];
  for (const size of sizes) {
    const floods = runsByPath();
    // CPU of each path's own process over its throughput runs (the others are idle meanwhile).
    const cpu = Object.fromEntries(PATHS.map((p) => [p, new CpuMeter(pids[p], ticks)])) as Record<
      Path,
      CpuMeter
    >;
    for (let r = 0; r < repeats; r++) {
      for (const path of PATHS) {
        const run = () => tester(inis[path], size, floodCount(size), 0);
        floods[path].push(await cpu[path].measure(run, (result) => result.sent));
      }
    }
    // Latency, interleaved and repeated too: one run's p99 swings with what the broker's disk is doing.
    const paced = runsByPath();
    for (let r = 0; r < repeats; r++) {
      for (const path of PATHS) {
        paced[path].push(await tester(inis[path], size, latencyCount, 1 / LATENCY_RATE));
      }
    }
    const after = await memoryByPath(pids);
    for (const path of PATHS) {
      rows.push({
        path,
        size,
        throughput: median(floods[path].map((f) => f.throughput)),
        latency: medianByP99(paced[path]),
        cpuSecsPer10k: cpu[path].secsPer10k,
        memoryAfter: after[path],
        floods: floods[path],
        paced: paced[path],
      });
    }
  }
  // What stays once V8's memory reducer has collected the runs' garbage (here it acted 15 to 25 s after
  // the last message): the RSS right after the runs still holds garbage no GC has had reason to collect.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const settledMemory = await memoryByPath(pids);
  clearInterval(scraper.timer);
  const settings = overrides.map((o) => ` Bridge settings: ${o.section}.${o.key} = ${o.value}.`).join("") +
    (scrape
      ? ` HTTP endpoint on in every bridge, /metrics and /ready fetched once a second from each: ` +
        `${scraper.scrapes} scrapes, ${scraper.failures} failed.`
      : "");
  const memory = { start: startMemory, settled: settledMemory, settleSecs: SETTLE_MS / 1000 };
  const table = markdownTable(rows, { repeats, latencyRate: LATENCY_RATE, prefetch: PREFETCH, memory }) +
    settings;
  print(`\n${table}`);
  const results = {
    date: new Date().toISOString(),
    quick,
    repeats,
    prefetch: PREFETCH,
    overrides,
    ...(scrape ? { scrape: { scrapes: scraper.scrapes, failures: scraper.failures } } : {}),
    latencyRate: LATENCY_RATE,
    clockTicks: ticks,
    memory,
    rows,
  };
  const out = new URL("./", import.meta.url).pathname;
  const files = [`${out}results${suffix}.json`, `${out}results${suffix}.md`];
  await Deno.writeTextFile(files[0]!, JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(files[1]!, table + "\n");
  // Formatted as the repository's check expects them.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", ...files], stdout: "null", stderr: "null" })
    .output();
  const lost = rows.flatMap((r) => [r.latency, ...r.floods]).reduce((n, run) => n + run.lost, 0);
  print(`\nlost across all runs: ${lost}`);
  if (lost > 0 || scraper.failures > 0) Deno.exitCode = 1;
} finally {
  clearInterval(scraper.timer);
  for (const program of running) {
    program.kill("SIGTERM");
    await program.exit(15_000);
  }
  await deleteQueues();
  await Deno.remove(dir, { recursive: true });
}

/** Starts the paths, each on its own queue pair; returns the INI file bridgetester uses and the pid of each. */
async function startPaths(): Promise<{ inis: Record<Path, string>; pids: Record<Path, number> }> {
  const inis = {} as Record<Path, string>;
  const pids = {} as Record<Path, number>;
  const echo = start(denoScript("tools/echo_server.ts", ["--allow-net"], ["--port", "0"]));
  const port = Number((await echo.waitForLine(/^listening on \d+/)).split(" ").at(-1));
  for (const path of PATHS) {
    const toWs = `bench.${id}.${path}.to_ws`;
    const fromWs = `bench.${id}.${path}.from_ws`;
    queues.push(toWs, fromWs);
    const ini = `${dir}/${path}.ini`;
    const noDelay = path !== "echoDirect"; // the same bridge, connecting directly (Nagle on)
    await Deno.writeTextFile(ini, iniText(toWs, fromWs, `ws://127.0.0.1:${port}`, noDelay), { mode: 0o600 });
    inis[path] = ini;
    // The deno process itself (no wrapper in between), so its pid is the one /proc is read for.
    const program = path === "baseline"
      ? start(
        denoScript("bench/forwarder.ts", ["--allow-net"], [
          AMQP_URL,
          toWs,
          fromWs,
          `${PREFETCH}`,
          `${TTL_MS}`,
        ]),
      )
      : start(denoScript("main.ts", BRIDGE, [
        "-c",
        ini,
        "-v",
        ...(path === "stub" ? ["-X"] : []),
        ...(scrape ? ["--http-listen", "127.0.0.1:0"] : []),
      ]));
    await program.waitForLine(path === "baseline" ? /^forwarding/ : /Bridging/);
    pids[path] = program.pid;
    if (scrape && path !== "baseline") {
      const address = / address=(\S+)/.exec(await program.waitForLine(/HTTP endpoint listening/))![1];
      scraper.endpoints.push(`http://${address}`);
    }
  }
  return { inis, pids };
}

async function memoryByPath(pids: Record<Path, number>): Promise<Record<Path, Memory>> {
  const entries = await Promise.all(PATHS.map(async (path) => [path, await memoryOf(pids[path])] as const));
  return Object.fromEntries(entries) as Record<Path, Memory>;
}

/** One bridgetester run; `delaySecs` 0 floods, otherwise a fixed rate. */
async function tester(ini: string, size: number, count: number, delaySecs: number): Promise<Run> {
  const json = `${dir}/run.json`;
  const args = ["-c", ini, "-q", "-n", String(count), "-d", String(delaySecs), "--size", String(size)];
  await using run = denoScript("tester.ts", TESTER, [...args, "-e", "60", "--json", json]);
  const status = await run.exit(600_000);
  const summary = JSON.parse(await Deno.readTextFile(json));
  const result: Run = {
    sent: summary.sent,
    reconciled: summary.reconciled,
    lost: summary.lost,
    duplicates: summary.duplicates,
    throughput: summary.throughput.reconciledPerSec,
    latencyMs: summary.latencyMs ?? { p50: null, p95: null, p99: null, max: null }, // null: none came back
  };
  const mode = delaySecs === 0 ? "flood  " : `${Math.round(1 / delaySecs)}/s`;
  print(
    `${ini.split("/").at(-1)!.replace(".ini", "").padEnd(8)} ${String(size).padStart(5)} B ${mode} ` +
      `${result.throughput?.toFixed(0).padStart(6)} msg/s  p50 ${fmt(result.latencyMs.p50)} ` +
      `p99 ${
        fmt(result.latencyMs.p99)
      } ms  lost ${result.lost}  dup ${result.duplicates}  exit ${status.code}`,
  );
  return result;
}

/** One scrape of every bridge: /metrics as Prometheus does, /ready as a load balancer does. */
async function scrapeAll(): Promise<void> {
  await Promise.all(scraper.endpoints.flatMap((base) =>
    ["/metrics", "/ready"].map(async (path) => {
      try {
        const response = await fetch(base + path, { signal: AbortSignal.timeout(900) });
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`${path} ${response.status}`);
        scraper.scrapes++;
      } catch {
        scraper.failures++;
      }
    })
  ));
}

function start(program: Program): Program {
  running.push(program);
  return program;
}

function iniText(toWs: string, fromWs: string, wsUrl: string, noDelay: boolean): string {
  const extra = (section: string) =>
    overrides.filter((o) => o.section === section).map((o) => `${o.key} = ${o.value}\n`).join("");
  return `[ws_api]
client_id = bench
client_secret = 0123456789abcdef0123456789abcdef
api_host = ${wsUrl}
api_uri = /bench
ws_no_delay = ${noDelay}
${extra("ws_api")}[aws_mq]
mq_url = ${AMQP_URL}
mq_qname_to_ws = ${toWs}
mq_qname_from_ws = ${fromWs}
mq_ttl_from_ws = ${TTL_MS}
mq_prefetch = ${PREFETCH}
${extra("aws_mq")}`;
}

/** `ws_api.ws_ack_delay_ms=0` -> its parts; anything else is a usage error. */
function parseOverride(text: string): { section: string; key: string; value: string } {
  const match = /^(ws_api|aws_mq)\.(\w+)=(.*)$/.exec(text);
  if (!match) throw new Error(`--set ${text}: expected ws_api.KEY=VALUE or aws_mq.KEY=VALUE`);
  const [, section, key, value] = match as unknown as [string, string, string, string];
  return { section, key, value };
}

async function deleteQueues(): Promise<void> {
  const amqp = (await import("amqplib")).default;
  const conn = await amqp.connect(AMQP_URL);
  const channel = await conn.createChannel();
  for (const queue of queues) await channel.deleteQueue(queue);
  await conn.close();
}

function runsByPath(): Record<Path, Run[]> {
  return Object.fromEntries(PATHS.map((path) => [path, [] as Run[]])) as Record<Path, Run[]>;
}

/** The run whose p99 is the median of the runs' (the lower middle one for an even count). */
function medianByP99(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => (a.latencyMs.p99 ?? Infinity) - (b.latencyMs.p99 ?? Infinity));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function fmt(ms: number | null): string {
  return ms === null ? "-" : ms < 10 ? ms.toFixed(2) : ms.toFixed(0);
}
