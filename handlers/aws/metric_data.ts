/**
 * Turns two metrics snapshots into the data points of one PutMetricData call:
 * every counter as its running total, the original service's per-second rates
 * and "recent" attempt counts from the difference between the snapshots, and
 * every gauge as is. Pure, so the published names and values are easy to test.
 */
import * as M from "../../lib/metrics.ts";

/** One CloudWatch data point (the shape PutMetricData takes). */
export interface MetricDatum {
  MetricName: string;
  Value: number;
  Unit: "Count" | "Count/Second" | "Bytes";
  Timestamp: Date;
  Dimensions: { Name: string; Value: string }[];
  StorageResolution: 1 | 60;
}

/** A snapshot and when it was taken (ms since the epoch). */
export interface TimedSnapshot {
  time: number;
  counters: Record<string, number>;
  gauges: Record<string, number>;
}

/** Counters published even before anything counted them, so dashboards and alarms see zeros. */
export const ALWAYS_PUBLISHED = [
  M.TO_WS_TOTAL,
  M.FROM_WS_TOTAL,
  M.MQ_CONNECTION_ATTEMPTS_TOTAL,
  M.WS_CONNECTION_ATTEMPTS_TOTAL,
  M.MQ_CONNECTIONS_LOST_TOTAL,
  M.WS_CONNECTIONS_LOST_TOTAL,
  M.TO_WS_REQUEUED_TOTAL,
  M.FROM_WS_RECEIVED_TOTAL,
  M.FROM_WS_PUBLISH_FAILURES_TOTAL,
  M.FROM_WS_DROPPED_TOTAL,
  M.WS_READ_PAUSES_TOTAL,
  M.CW_METRICS_PUBLISH_FAILURES_TOTAL,
];

/** Rates (per second) and recent counts derived from a counter, named as the original did. */
const DERIVED: { from: string; name: string; perSecond: boolean }[] = [
  { from: M.TO_WS_TOTAL, name: "to_ws_persecond", perSecond: true },
  { from: M.FROM_WS_TOTAL, name: "from_ws_persecond", perSecond: true },
  { from: M.MQ_CONNECTION_ATTEMPTS_TOTAL, name: "mq_connection_attempts_recent", perSecond: false },
  { from: M.WS_CONNECTION_ATTEMPTS_TOTAL, name: "ws_connection_attempts_recent", perSecond: false },
];

/** CloudWatch keeps per-second data only for high-resolution metrics. */
export function storageResolution(resolutionSecs: number): 1 | 60 {
  return resolutionSecs < 60 ? 1 : 60;
}

/** The data points for `current`, with rates over the time since `previous`. */
export function metricData(
  previous: TimedSnapshot,
  current: TimedSnapshot,
  dimensions: Record<string, string>,
  resolution: 1 | 60,
): MetricDatum[] {
  const Timestamp = new Date(current.time);
  const Dimensions = Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value }));
  const datum = (MetricName: string, Value: number, Unit: MetricDatum["Unit"]): MetricDatum => ({
    MetricName,
    Value,
    Unit,
    Timestamp,
    Dimensions,
    StorageResolution: resolution,
  });
  const totals: Record<string, number> = {};
  for (const name of ALWAYS_PUBLISHED) totals[name] = 0;
  Object.assign(totals, current.counters);

  const data = Object.entries(totals).map(([name, value]) => datum(name, value, "Count"));
  const seconds = Math.max((current.time - previous.time) / 1000, 0.001);
  for (const { from, name, perSecond } of DERIVED) {
    // Counters only grow; a negative delta would mean a reset, so count from zero then.
    const now = totals[from] ?? 0;
    const before = previous.counters[from] ?? 0;
    const delta = now >= before ? now - before : now;
    data.push(perSecond ? datum(name, round(delta / seconds), "Count/Second") : datum(name, delta, "Count"));
  }
  for (const [name, value] of Object.entries(current.gauges)) {
    data.push(datum(name, value, name.endsWith("_bytes") ? "Bytes" : "Count"));
  }
  return data;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
