/** The closing summary, its text and JSON forms, and the exit status (pure, no services). */
import assert from "node:assert/strict";
import { Reconciler } from "../../tester/reconcile.ts";
import {
  exitStatus,
  formatSummary,
  reconciledLine,
  type RunResult,
  summarize,
} from "../../tester/summary.ts";

/** A run of `count` messages sent 10 ms apart from t=1000; `back` maps message number to latency. */
function run(count: number, back: Record<number, number>, extra: Partial<RunResult> = {}): RunResult {
  const r = new Reconciler(count);
  for (let i = 1; i <= count; i++) r.recordSent(i, `m${i}`, 1000 + (i - 1) * 10);
  let last = NaN;
  for (const [i, ms] of Object.entries(back)) {
    const at = 1000 + (Number(i) - 1) * 10 + ms;
    r.receive(`m${i}`, at);
    last = Number.isNaN(last) ? at : Math.max(last, at);
  }
  return {
    reconciler: r,
    foreign: { deliveries: 0, rejected: 0, consumed: 0, held: 0 },
    confirmed: count,
    republished: 0,
    foreignHandedBack: 0,
    startedAt: 1000,
    lastSentAt: 1000 + (count - 1) * 10,
    lastReceivedAt: last,
    endedAt: Number.isNaN(last) ? 5000 : last,
    interrupted: false,
    ...extra,
  };
}

Deno.test("summarize() counts, times and ranks a complete run", () => {
  const s = summarize(run(4, { 1: 2, 2: 4, 3: 6, 4: 8 }));
  assert.equal(s.requested, 4);
  assert.equal(s.sent, 4);
  assert.equal(s.reconciled, 4);
  assert.equal(s.lost, 0);
  assert.equal(s.unsent, 0);
  assert.equal(s.elapsedSecs, 0.038);
  assert.equal(s.sendSecs, 0.03);
  assert.equal(s.throughput.sentPerSec, 100);
  assert.equal(s.throughput.reconciledPerSec, 105.3);
  assert.deepEqual(s.latencyMs, { count: 4, min: 2, p50: 4, p95: 8, p99: 8, max: 8 });
  assert.equal(exitStatus(s, null), 0);
});

Deno.test("summarize() counts lost, duplicate and never-sent messages", () => {
  const result = run(3, { 2: 5 });
  result.reconciler.receive("m2", 9999);
  const s = summarize(result);
  assert.deepEqual([s.reconciled, s.lost, s.duplicates], [1, 2, 1]);
  assert.equal(exitStatus(s, null), 1);
  assert.equal(reconciledLine(s), "Number of messages reconciled: 1 of 3");
  const nothing = summarize(run(2, {}));
  assert.equal(nothing.latencyMs, null);
  assert.equal(nothing.throughput.reconciledPerSec, null);
  assert.match(formatSummary(nothing), /^Latency ms {2}- \(nothing came back\)$/m);
});

Deno.test("exitStatus() is 0 only when every message came back within --max-p99", () => {
  const s = summarize(run(2, { 1: 5, 2: 50 }));
  assert.equal(exitStatus(s, null), 0);
  assert.equal(exitStatus(s, 50), 0);
  assert.equal(exitStatus(s, 49.9), 3);
  const cut = new Reconciler(3);
  cut.recordSent(1, "a", 0);
  cut.receive("a", 1);
  const interrupted = summarize({ ...run(1, { 1: 1 }), reconciler: cut, interrupted: true });
  assert.equal(interrupted.unsent, 2);
  assert.equal(exitStatus(interrupted, null), 130);
});

Deno.test("formatSummary() gives one fact per line: sent, reconciled, lost, duplicates, elapsed, throughput, latency", () => {
  const text = formatSummary(summarize(run(4, { 1: 2, 2: 4, 3: 6, 4: 8 })));
  assert.deepEqual(text.split("\n").map((line) => line.split(/\s+/)[0]), [
    "Sent",
    "Reconciled",
    "Lost",
    "Duplicates",
    "Not",
    "Elapsed",
    "Throughput",
    "Latency",
  ]);
  assert.match(text, /^Latency ms {2}min 2\.00 {2}p50 4\.00 {2}p95 8\.00 {2}p99 8\.00 {2}max 8\.00$/m);
  assert.match(text, /^Throughput {2}sent 100\/s, reconciled 105\/s$/m);
});
