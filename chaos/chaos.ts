/**
 * `deno task chaos`: the chaos suite of issue #6. Runs every scenario against
 * the real broker, real bridge processes and a real echo endpoint process,
 * prints a row per scenario and the verdict, and writes bench/chaos.json and
 * bench/chaos.md. Exit status 1 when a scenario lost a message (or failed a
 * check), 0 otherwise.
 *
 *   deno task chaos [--quick] [--only ID,ID] [--out DIR] [--no-write]
 *                   [--count N] [--rate MSG_PER_SEC] [--faults N]   (override the size)
 */
import { parseArgs } from "node:util";
import { runScenario, type Scenario, type ScenarioResult, type ScenarioSize } from "./harness.ts";
import { headerLine, resultLines, verdictLine, writeResults } from "./report.ts";
import {
  alarmBothWays,
  apiBurst,
  apiSigstopLight,
  apiSigstopLoad,
  bigFramesAlarm,
  bridgeRestart,
  brokerClose,
  brokerOutage,
  quorumQueues,
  sigkillBothWays,
  slowConsumer,
  stalledPeerDies,
  twoBridges,
  wsKill,
} from "./scenarios.ts";
import { print, printErr } from "../lib/print.ts";

/** The full run: 12,000 messages at 500/s (24 s of load) per scenario, 4 faults each. */
export const FULL: ScenarioSize = {
  count: 12_000,
  ratePerSec: 500,
  faults: 4,
  endWaitMs: 60_000,
  quick: false,
};
/** The CI run (tests/integration/chaos_test.ts, --quick): 2,000 messages at 500/s, 2 faults each. */
export const QUICK: ScenarioSize = {
  count: 2_000,
  ratePerSec: 500,
  faults: 2,
  endWaitMs: 30_000,
  quick: true,
};

/** Every scenario, in the order they run. */
export function suite(): Scenario[] {
  return [
    wsKill(),
    brokerClose("websocket"),
    brokerClose("stub"),
    slowConsumer(),
    bridgeRestart("websocket", "SIGTERM"),
    bridgeRestart("stub", "SIGTERM"),
    bridgeRestart("websocket", "SIGKILL"),
    bridgeRestart("stub", "SIGKILL"),
    twoBridges("websocket", "SIGTERM"),
    twoBridges("websocket", "SIGKILL"),
    twoBridges("stub", "SIGKILL"),
    stalledPeerDies(),
    // Issue 10: delivery under pressure, counted in and out both ways.
    apiBurst(),
    bigFramesAlarm(),
    brokerOutage(),
    apiSigstopLight(),
    apiSigstopLoad(),
    alarmBothWays(),
    quorumQueues(),
    sigkillBothWays(),
  ];
}

/** Runs the suite; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string", default: "bench" },
      "no-write": { type: "boolean", default: false },
      count: { type: "string" },
      rate: { type: "string" },
      faults: { type: "string" },
    },
  });
  const size = { ...(values.quick ? QUICK : FULL) };
  for (const key of ["count", "rate", "faults"] as const) {
    const value = values[key];
    if (value === undefined) continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      return printErr(`chaos: --${key} must be a positive integer: "${value}"`), 2;
    }
    size[key === "rate" ? "ratePerSec" : key] = n;
  }
  const only = values.only?.split(",");
  const scenarios = suite().filter((s) => !only || only.includes(s.id));
  if (scenarios.length === 0) {
    printErr(`chaos: no scenario named ${values.only}; known: ${suite().map((s) => s.id).join(", ")}`);
    return 2;
  }
  const load = `${size.count} messages per scenario at ${size.ratePerSec} msg/s, ${size.faults} faults each`;
  print(`Chaos suite: ${scenarios.length} scenarios, ${load}`);
  print(headerLine());
  const started = performance.now();
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const result = await runScenario(scenario, size);
    results.push(result);
    for (const line of resultLines(result)) print(line);
  }
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  print(verdictLine(results));
  print(`Run time ${seconds} s`);
  if (!values["no-write"]) {
    const files = await writeResults(values.out, results, {
      date: new Date().toISOString(),
      load,
      size,
      seconds,
      deno: Deno.version.deno,
    });
    print(`Wrote ${files.join(" and ")}`);
  }
  return results.every((r) => r.ok) ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
