/**
 * `deno task soak`: a million messages (by default) through one bridge
 * process as fast as the path takes them, in stub mode (-X) by default or
 * through the echo endpoint with --ws. The bridge's resident memory (VmRSS)
 * is read at every tenth of the run; after warm-up (the first 100,000
 * messages) it must not grow with the message count: the end must be within
 * 20% of the reading at 100,000. Count in must equal count out. Writes
 * bench/soak.{json,md} (bench/soak_ws.{json,md} with --ws).
 *
 *   deno task soak [-n COUNT] [--ws] [--body BYTES] [--out DIR] [--no-write]
 */
import { parseArgs } from "node:util";
import { AMQP_URL, openBroker } from "../tests/_broker.ts";
import { bridgeValues, writeIni } from "../tests/_bridge.ts";
import { Load } from "./load.ts";
import { rssKiB, startBridgeProcess, startEcho } from "./procs.ts";
import { print, printErr } from "../lib/print.ts";

/** Sending pauses while this many messages are out (keeps the queues short: the path, not a backlog). */
const MAX_OUTSTANDING = 5000;
const WARM_UP = 100_000;
const LIMIT = 1.2;

/** One RSS reading. */
export interface Sample {
  back: number;
  seconds: number;
  rssKiB: number;
}

/** Runs the soak; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      count: { type: "string", short: "n", default: "1000000" },
      ws: { type: "boolean", default: false },
      body: { type: "string", default: "100" },
      out: { type: "string", default: "bench" },
      "no-write": { type: "boolean", default: false },
    },
  });
  const count = Number(values.count);
  const bodyBytes = Number(values.body);
  if (!(Number.isInteger(count) && count >= 2 * WARM_UP) || !(bodyBytes > 0)) {
    printErr(`soak: -n must be an integer of at least ${2 * WARM_UP}, --body a positive size`);
    return 2;
  }
  const mode = values.ws ? "websocket" : "stub";
  await using broker = await openBroker();
  const toWs = await broker.queue("soak-to");
  const fromWs = await broker.queue("soak-from");
  await using echo = values.ws ? await startEcho() : null;
  const url = echo?.url;
  await using ini = await writeIni(bridgeValues({ toWs, fromWs, ...(url ? { wsUrl: url } : {}) }));
  await using bridge = await startBridgeProcess(ini.path, !values.ws);
  print(`Soak: ${count} messages of ${bodyBytes} B through one bridge (${mode} mode), pid ${bridge.pid}`);

  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) / 100) / 10;
  const samples: Sample[] = [{ back: 0, seconds: 0, rssKiB: await rssKiB(bridge.pid) }];
  print(`[${pad(0)} s] ${pad(0, 9)} back  RSS ${mib(samples[0]!.rssKiB)}  (before the load)`);
  await using load = await Load.start({
    url: AMQP_URL,
    toWs,
    fromWs,
    count,
    ratePerSec: 0,
    bodyBytes,
    maxOutstanding: MAX_OUTSTANDING,
  });
  // Between milestones, a reading every second shows the range RSS moves in (GC saw-tooth).
  const series: [number, number][] = [];
  const reader = setInterval(() => {
    const back = load.tally.distinct;
    rssKiB(bridge.pid).then((kib) => series.push([back, kib]), () => {});
  }, 1000);
  const milestones = [WARM_UP, ...Array.from({ length: 10 }, (_, i) => Math.round((count * (i + 1)) / 10))]
    .filter((target, i, all) => i === 0 || target > all[0]!).sort((a, b) => a - b);
  for (const target of milestones) {
    await load.until(() => load.tally.distinct >= target, 600_000, `${target} messages back`);
    const sample = { back: load.tally.distinct, seconds: elapsed(), rssKiB: await rssKiB(bridge.pid) };
    samples.push(sample);
    const rate = Math.round(sample.back / sample.seconds);
    print(
      `[${pad(sample.seconds)} s] ${pad(sample.back, 9)} back  RSS ${mib(sample.rssKiB)}  (${rate} msg/s)`,
    );
  }
  clearInterval(reader);
  const seconds = elapsed();
  bridge.kill("SIGTERM");
  const status = await bridge.exit();
  await load.finish();
  for (const msg of await broker.drain(fromWs)) load.tally.receive(msg.text.slice(0, 64), performance.now());

  const t = load.tally;
  const at100k = samples.find((s) => s.back >= WARM_UP)!;
  const middle = samples.find((s) => s.back >= count / 2)!;
  const end = samples.at(-1)!;
  const ratio = Math.round((end.rssKiB / at100k.rssKiB) * 1000) / 1000;
  const steady = series.filter(([back]) => back >= count / 5).map(([, kib]) => kib);
  const range = { from: Math.round(count / 5), minKiB: Math.min(...steady), maxKiB: Math.max(...steady) };
  const ok = t.lost === 0 && t.sent === count && ratio <= LIMIT && status.code === 0;
  const summary = {
    date: new Date().toISOString(),
    mode,
    count,
    bodyBytes,
    seconds,
    throughputPerSec: Math.round(count / seconds),
    sent: t.sent,
    received: t.distinct,
    lost: t.lost,
    duplicates: t.duplicates,
    rssKiB: { start: at100k.rssKiB, middle: middle.rssKiB, end: end.rssKiB },
    ratioEndTo100k: ratio,
    limit: LIMIT,
    /** Every reading (one a second) from a fifth of the run on: the band RSS stays in. */
    steadyRange: range,
    bridgeExit: status.code,
    samples,
    series,
    ok,
  };
  print(
    `Count     sent ${t.sent}, received ${t.distinct} distinct, lost ${t.lost}, duplicates ${t.duplicates}`,
  );
  print(
    `RSS       ${mib(at100k.rssKiB)} at ${at100k.back} (after warm-up), ${
      mib(middle.rssKiB)
    } at ${middle.back}, ` +
      `${mib(end.rssKiB)} at ${end.back}: end/100k = ${ratio} (limit ${LIMIT})`,
  );
  print(
    `RSS range ${mib(range.minKiB)} to ${
      mib(range.maxKiB)
    } over ${steady.length} readings from ${range.from} on`,
  );
  print(`Duration  ${seconds} s (${summary.throughputPerSec} msg/s); bridge exit status ${status.code}`);
  print(ok ? "PASS" : "FAIL");
  if (!values["no-write"]) print(`Wrote ${(await writeSoak(values.out, summary)).join(" and ")}`);
  return ok ? 0 : 1;
}

async function writeSoak(dir: string, s: Record<string, unknown> & { rssKiB: Record<string, number> }) {
  await Deno.mkdir(dir, { recursive: true });
  const name = s.mode === "stub" ? "soak" : "soak_ws";
  const json = `${dir}/${name}.json`;
  const md = `${dir}/${name}.md`;
  await Deno.writeTextFile(json, JSON.stringify(s, null, 2) + "\n");
  const rows = [
    "| messages | mode | duration | sent | received | lost | duplicates | RSS at 100k | RSS middle | RSS end | end/100k |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${s.count} | ${s.mode} | ${s.seconds} s | ${s.sent} | ${s.received} | ${s.lost} | ${s.duplicates} | ` +
    `${mib(s.rssKiB.start!)} | ${mib(s.rssKiB.middle!)} | ${mib(s.rssKiB.end!)} | ${s.ratioEndTo100k} |`,
  ];
  const text = `# Soak results\n\nProduced by \`deno task soak\` on ${s.date} (${s.bodyBytes} B messages, ` +
    `stub mode unless it says websocket).\n\n${rows.join("\n")}\n`;
  await Deno.writeTextFile(md, text);
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", json, md], stdout: "null", stderr: "null" })
    .output();
  return [json, md];
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

function pad(n: number, width = 5): string {
  return String(n).padStart(width);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
