/**
 * The end of a chaos scenario: wait (one deadline) for what is still on its
 * way in every direction, check that no bridge exited by itself, stop the
 * bridges gracefully, take what is left on from_ws, read the API stand-in's
 * counters, and turn it all into a result: per direction sent, received,
 * lost, duplicates and time to recover.
 */
import { openBroker } from "../tests/_broker.ts";
import { directionResult, eachMessageOnce, fromWsOfApi, recoveryOf, toWsAtApi } from "./directions.ts";
import type { Run } from "./harness.ts";
import type { Load } from "./load.ts";
import type { Tally } from "./tally.ts";
import type { DirectionName, DirectionResult, ScenarioResult } from "./types.ts";

/** Waits for the stragglers, stops the bridges, collects what is left, counts. */
export async function conclude(run: Run, started: number, error: string | null): Promise<ScenarioResult> {
  const { scenario } = run;
  const load = run.load as Load | undefined; // unset when the scenario failed before the load started
  if (run.api?.frozen) run.api.thaw();
  if (load) {
    if (error) {
      load.stopSending(); // count what was sent
      await run.api?.stop().catch(() => {});
    }
    error ??= await awaitEnd(run, load, performance.now() + run.size.endWaitMs);
  }
  for (const exit of run.exits) {
    const detail = `bridge pid ${exit.pid} exited with status ${exit.code} at ${exit.atMs / 1000} s`;
    run.checks.push({ name: "the bridge stays up", ok: false, detail });
  }
  for (const bridge of [...run.bridges]) await run.stopBridge(bridge, "SIGTERM");
  await load?.finish();
  // A private node's first connection may have died in an outage: a fresh one for the last look.
  await using fresh = run.node ? await openBroker(run.brokerUrl).catch(() => null) : null;
  const broker = fresh ?? run.broker;
  const leftovers = await broker.drain(run.fromWs).catch(() => []);
  for (const msg of leftovers) load?.receive(msg.text.slice(0, 64), performance.now());
  const directions = load ? await countDirections(run, load) : [];
  const faults = run.faults.map((f) => {
    const byDirection = Object.fromEntries(directions.map((d) => [d.row.name, recoveryOf(d.tally, f)]));
    const values = Object.values(byDirection);
    return {
      label: f.label,
      atMs: round(f.at - started),
      ...(f.repairedAt !== null ? { repairedAtMs: round(f.repairedAt - started) } : {}),
      recoverMs: values.includes(null) || values.length === 0 ? null : Math.max(...(values as number[])),
      byDirection,
    };
  });
  const rows = directions.map((d) => d.row);
  const once = eachMessageOnce(rows);
  const sum = (key: "requested" | "sent" | "received" | "lost" | "duplicates") =>
    once.reduce((n, d) => n + d[key], 0);
  const recover = faults.map((f) => f.recoverMs);
  const warnings = run.everyBridge.flatMap((b) => b.lines.filter((l) => / WARN /.test(l)));
  const result: ScenarioResult = {
    id: scenario.id,
    title: scenario.title,
    mode: scenario.mode,
    faults,
    directions: rows,
    requested: rows.length ? sum("requested") : run.size.count,
    sent: sum("sent"),
    received: sum("received"),
    lost: sum("lost"),
    duplicates: sum("duplicates"),
    recoverMs: recover.includes(null) ? null : Math.max(0, ...(recover as number[])),
    leftInToWs: await broker.ready(run.toWs).catch(() => -1),
    missing: once.find((d) => d.lost > 0)?.missing ?? [],
    checks: run.checks,
    notes: {
      ...run.notes,
      bridgeWarnings: warnings.length,
      firstBridgeWarnings: warnings.slice(0, 8),
      foreign: rows.reduce((n, d) => n + d.foreign, 0),
      republishedByLoad: load?.republished ?? 0,
    },
    // ERROR lines, and what the runtime prints when the process dies of an uncaught error.
    bridgeErrors: run.everyBridge.flatMap((b) => b.lines.filter((l) => / ERROR |^error: |Uncaught/.test(l)))
      .slice(0, 10),
    error,
    expectsLoss: scenario.expectsLoss ?? false,
    seconds: round((performance.now() - started) / 1000),
    ok: false,
  };
  result.ok = error === null && result.checks.every((c) => c.ok) &&
    rows.every((d) => d.lost === 0 || d.expectsLoss);
  return result;
}

/** True when loss in `name` is what the scenario measures, not a failure. */
export function lossExpected(run: Run, name: DirectionName): boolean {
  return run.scenario.expectsLoss === true || (run.scenario.lossExpectedIn?.includes(name) ?? false);
}

/** True when the endpoint sends to_ws messages back (echo server, API with --echo, stub mode). */
function echoes(run: Run): boolean {
  return run.scenario.mode === "stub" || run.echo !== null || (run.api?.echo ?? false);
}

/** Waits, until `deadline`, for each direction to be complete; returns what did not happen, or null. */
async function awaitEnd(run: Run, load: Load, deadline: number): Promise<string | null> {
  const left = () => Math.max(0, deadline - performance.now());
  const within = `within ${run.size.endWaitMs} ms of the last send`;
  if (load.tally.count > 0 && echoes(run)) {
    if (!lossExpected(run, "round_trip") && !await load.allBack(left())) {
      return `not every message came back ${within}`;
    }
    if (lossExpected(run, "round_trip") && !await load.lastBack(left())) {
      return `the last message sent did not come back ${within}`;
    }
  } else if (load.tally.count > 0 && run.api && !lossExpected(run, "to_ws")) {
    await load.sending;
    const n = load.tally.sent;
    const ok = await run.api.wait("received", n, left(), load.tally.prefix).then(() => true, () => false);
    if (!ok) return `the API did not receive every to_ws message ${within}`;
  }
  const fromApi = load.fromApi;
  if (run.apiLoad && run.api && fromApi && (await run.api.status()).sender) {
    const status = await run.api.wait("sent", run.apiLoad.count, left()).catch(() => null);
    if (!status) return `the API did not finish sending its ${run.apiLoad.count} messages in time`;
    const last = (status.sender?.next ?? 1) - 1;
    const test = lossExpected(run, "from_ws")
      ? () => last === 0 || fromApi.copies[last]! > 0
      : () => fromApi.distinct >= last;
    const ok = await load.until(test, left(), "the API's messages in from_ws").then(() => true, () => false);
    if (!ok) return `not every message the API sent reached from_ws ${within}`;
  }
  return null;
}

/** Each direction the run carried: its tally (for recovery per fault) and its row. */
async function countDirections(run: Run, load: Load): Promise<{ tally: Tally; row: DirectionResult }[]> {
  const out: { name: DirectionName; tally: Tally; requested: number }[] = [];
  const count = load.tally.count;
  if (count > 0 && echoes(run)) out.push({ name: "round_trip", tally: load.tally, requested: count });
  const api = run.api;
  if (api && count > 0) {
    const reports = [
      ...run.apiSnapshots.map((s) => s.received),
      await api.received(load.tally.prefix, count, true),
    ];
    const proof = run.apiSnapshots.length > 0 && api.echo ? load.tally : null;
    out.push({ name: "to_ws", tally: toWsAtApi(load.tally, reports, proof), requested: count });
  }
  if (api && run.apiLoad && load.fromApi) {
    const sent = [...run.apiSnapshots.map((s) => s.sent), await api.sent(true)].filter((s) => s !== null);
    out.push({ name: "from_ws", tally: fromWsOfApi(load.fromApi, sent), requested: run.apiLoad.count });
  }
  return out.map((d) => ({
    tally: d.tally,
    row: directionResult(d.name, d.tally, run.faults, {
      requested: d.requested,
      expectsLoss: lossExpected(run, d.name),
    }),
  }));
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
