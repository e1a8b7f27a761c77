import assert from "node:assert/strict";
import * as M from "../../lib/metrics.ts";

Deno.test("MetricsRegistry.observe() counts each value in the first bucket whose bound it does not exceed", () => {
  const registry = new M.MetricsRegistry();
  for (const value of [0, 0.0005, 0.0006, 0.003, 10, 11, Infinity]) {
    registry.observe(M.FROM_WS_CONFIRM_SECONDS, value);
  }
  const h = registry.snapshot().histograms[M.FROM_WS_CONFIRM_SECONDS]!;
  assert.deepEqual(h.buckets, M.HISTOGRAM_BUCKETS[M.FROM_WS_CONFIRM_SECONDS]);
  const at = (le: number) => h.counts[h.buckets.indexOf(le)];
  assert.deepEqual([at(0.0005), at(0.001), at(0.0025), at(0.005), at(5), at(10)], [2, 3, 3, 4, 4, 5]);
  assert.equal(h.counts.length, h.buckets.length, "cumulative, +Inf being `count`");
  assert.equal(h.count, 7);
  assert.equal(h.sum, Infinity);
});

Deno.test("MetricsRegistry.observe() puts NaN above every bound, as Prometheus' clients do", () => {
  const registry = new M.MetricsRegistry();
  registry.observe(M.FROM_WS_CONFIRM_SECONDS, NaN);
  const h = registry.snapshot().histograms[M.FROM_WS_CONFIRM_SECONDS]!;
  assert.equal(h.counts.at(-1), 0);
  assert.equal(h.count, 1);
  assert.ok(Number.isNaN(h.sum));
});

Deno.test("MetricsRegistry.snapshot() has every histogram from the start, at zero, and copies it", () => {
  const registry = new M.MetricsRegistry();
  const before = registry.snapshot().histograms[M.FROM_WS_CONFIRM_SECONDS]!;
  assert.deepEqual({ ...before, buckets: [] }, {
    buckets: [],
    counts: new Array(before.buckets.length).fill(0),
    sum: 0,
    count: 0,
  });
  registry.observe(M.FROM_WS_CONFIRM_SECONDS, 1);
  assert.equal(before.count, 0, "an earlier snapshot does not move");
  assert.deepEqual(Object.keys(registry.snapshot().histograms), Object.keys(M.HISTOGRAM_BUCKETS));
});

Deno.test("MetricsRegistry.observe() refuses a name without buckets, naming it", () => {
  assert.throws(
    () => new M.MetricsRegistry().observe("no_such_seconds", 1),
    /Cannot observe "no_such_seconds": it has no buckets/,
  );
});

Deno.test("METRIC_INFO describes every metric name lib/metrics.ts exports, and only those", () => {
  const names = Object.entries(M).filter(([key, value]) =>
    /^[A-Z0-9_]+$/.test(key) && typeof value === "string"
  )
    .map(([, value]) => value as string);
  assert.deepEqual(Object.keys(M.METRIC_INFO).toSorted(), names.toSorted());
  for (const [name, { kind, help }] of Object.entries(M.METRIC_INFO)) {
    assert.ok(help.length > 10 && !help.includes("\n"), name);
    assert.equal(
      kind === "counter",
      name.endsWith("_total"),
      `${name}: counters, and only they, end in _total`,
    );
    assert.equal(
      kind === "histogram",
      Object.hasOwn(M.HISTOGRAM_BUCKETS, name),
      `${name}: buckets for histograms`,
    );
  }
});

Deno.test("HISTOGRAM_BUCKETS are ascending and finite", () => {
  for (const [name, buckets] of Object.entries(M.HISTOGRAM_BUCKETS)) {
    assert.ok(buckets.every((b, i) => Number.isFinite(b) && (i === 0 || b > buckets[i - 1]!)), name);
  }
});
