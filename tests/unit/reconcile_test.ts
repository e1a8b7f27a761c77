/** Reconciliation and latency statistics (pure, no services). */
import assert from "node:assert/strict";
import { padBody, Reconciler, testBody, unpadBody } from "../../tester/reconcile.ts";
import { latencyStats, percentile } from "../../tester/percentiles.ts";

Deno.test("testBody() writes the original's format with the send time's minutes and seconds", () => {
  const at = new Date(2026, 0, 2, 13, 4, 9, 500).getTime();
  assert.equal(testBody(7, 4242, at), "Test msg #7 (4242.0409)");
});

Deno.test("Reconciler.receive() tells ours, duplicates and foreign bodies apart", () => {
  const r = new Reconciler(3);
  r.recordSent(1, "a", 10);
  r.recordSent(2, "b", 20);
  assert.deepEqual(r.receive("b", 25), { outcome: "reconciled", index: 2 });
  assert.deepEqual(r.receive("b", 26), { outcome: "duplicate", index: 2 });
  assert.deepEqual(r.receive("zzz", 27), { outcome: "foreign", index: 0 });
  assert.deepEqual(r.receive("c", 28), { outcome: "foreign", index: 0 }, "not sent yet = not ours");
  assert.equal(r.elapsed(2), 5);
  assert.equal(r.receivedAt[1], 25, "the first receipt counts");
  assert.deepEqual([r.sent, r.reconciled, r.duplicates], [2, 1, 1]);
  assert.deepEqual(r.unreconciled(), ["a"]);
  assert.equal(r.isReconciled(1), false);
  assert.equal(r.isReconciled(2), true);
});

Deno.test("Reconciler.complete resolves when the last message comes back", async () => {
  const r = new Reconciler(2);
  let done = false;
  r.complete.then(() => done = true);
  r.recordSent(1, "a", 0);
  r.recordSent(2, "b", 0);
  r.receive("b", 1);
  await Promise.resolve();
  assert.equal(done, false);
  r.receive("a", 2);
  await r.complete;
  assert.deepEqual([...r.latencies()], [2, 1], "in message order");
});

Deno.test("Reconciler.firstOpen() advances past reconciled messages", () => {
  const r = new Reconciler(4);
  for (let i = 1; i <= 4; i++) r.recordSent(i, `m${i}`, 0);
  assert.equal(r.firstOpen(), 1);
  r.receive("m2", 1);
  assert.equal(r.firstOpen(), 1);
  r.receive("m1", 1);
  assert.equal(r.firstOpen(), 3);
  r.receive("m3", 1);
  r.receive("m4", 1);
  assert.equal(r.firstOpen(), 5);
});

Deno.test("Reconciler.recordSent() refuses a number out of range or sent twice", () => {
  const r = new Reconciler(1);
  assert.throws(() => r.recordSent(0, "x", 0), RangeError);
  assert.throws(() => r.recordSent(2, "x", 0), RangeError);
  r.recordSent(1, "x", 0);
  assert.throws(() => r.recordSent(1, "y", 0), /sent already/);
});

Deno.test("Reconciler handles 200,000 messages in linear time", () => {
  const n = 200_000;
  const r = new Reconciler(n);
  const started = performance.now();
  for (let i = 1; i <= n; i++) r.recordSent(i, testBody(i, 1, 0), i);
  for (let i = n; i >= 1; i--) r.receive(testBody(i, 1, 0), n + i);
  r.latencies();
  assert.equal(r.reconciled, n);
  assert.ok(performance.now() - started < 5_000, "no quadratic lookup");
});

Deno.test("percentile() uses the nearest rank", () => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 50), 50);
  assert.equal(percentile(sorted, 95), 95);
  assert.equal(percentile(sorted, 99), 99);
  assert.equal(percentile(sorted, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("latencyStats() sorts a copy and reports min, p50, p95, p99 and max", () => {
  const samples = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.deepEqual(latencyStats(samples), { count: 10, min: 1, p50: 5, p95: 10, p99: 10, max: 10 });
  assert.deepEqual(samples.slice(0, 3), [5, 1, 4], "input untouched");
  assert.equal(latencyStats([]), null);
});

Deno.test("padBody() pads to the byte size asked and unpadBody() gives the original back", () => {
  const body = "Test msg #7 (4242.0409)";
  const padded = padBody(body, 100);
  assert.equal(new TextEncoder().encode(padded).length, 100);
  assert.equal(unpadBody(padded, 100), body);
  assert.equal(padBody(body, 10), body, "never cut");
  assert.equal(unpadBody(padded.slice(0, 60), 100), null, "a shortened body is not ours");
  assert.equal(unpadBody(body, null), body);
});
