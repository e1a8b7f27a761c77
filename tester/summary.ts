/**
 * The closing summary of a bridgetester run: counts, timings, throughput and
 * latency percentiles, as data (for `--json`), as text (for people), and as
 * the exit status the run earned. Pure functions over the run's result.
 */
import { type LatencyStats, latencyStats } from "./percentiles.ts";
import type { Reconciler } from "./reconcile.ts";
import { TESTER_EXIT } from "./args.ts";
import { formatMs, formatMsValue } from "./views/format.ts";

/** Counts of messages received that were not ours. */
export interface ForeignCounts {
  /** Deliveries of foreign messages (a message handed back and redelivered counts again). */
  deliveries: number;
  /** Rejections with requeue sent (non-exclusive mode). */
  rejected: number;
  /** Foreign messages acknowledged, i.e. taken off the queue (-x). */
  consumed: number;
  /** Foreign deliveries held unacknowledged right now (non-exclusive mode). */
  held: number;
}

/** What the run measured, in monotonic milliseconds. */
export interface RunResult {
  reconciler: Reconciler;
  foreign: ForeignCounts;
  /** Sends the broker confirmed. */
  confirmed: number;
  /** Sends repeated because the broker connection dropped before confirming them. */
  republished: number;
  /** Distinct foreign messages handed back to the from_ws queue (0 with -x, which consumes them). */
  foreignHandedBack: number;
  /** First send (NaN if none). */
  startedAt: number;
  lastSentAt: number;
  /** Last first-time receipt of one of ours (NaN if none). */
  lastReceivedAt: number;
  /** When the run stopped waiting. */
  endedAt: number;
  interrupted: boolean;
}

/** The closing summary. Rates are per second; null when there is nothing to divide. */
export interface Summary {
  requested: number;
  sent: number;
  confirmed: number;
  republished: number;
  reconciled: number;
  /** Sent but never came back. */
  lost: number;
  /** Never sent (the run was interrupted). */
  unsent: number;
  duplicates: number;
  /** `handedBack`: distinct messages left on the queue for their owner (deliveries count each sighting). */
  foreign: { deliveries: number; rejected: number; consumed: number; handedBack: number };
  elapsedSecs: number;
  sendSecs: number;
  throughput: { sentPerSec: number | null; reconciledPerSec: number | null };
  latencyMs: LatencyStats | null;
  interrupted: boolean;
}

/** Computes the summary; O(n log n) for the exact percentiles. */
export function summarize(result: RunResult): Summary {
  const r = result.reconciler;
  const started = Number.isNaN(result.startedAt) ? result.endedAt : result.startedAt;
  const sendMs = r.sent > 0 ? result.lastSentAt - started : 0;
  const backMs = r.reconciled > 0 ? result.lastReceivedAt - started : 0;
  return {
    requested: r.count,
    sent: r.sent,
    confirmed: result.confirmed,
    republished: result.republished,
    reconciled: r.reconciled,
    lost: r.sent - r.reconciled,
    unsent: r.count - r.sent,
    duplicates: r.duplicates,
    foreign: {
      deliveries: result.foreign.deliveries,
      rejected: result.foreign.rejected,
      consumed: result.foreign.consumed,
      handedBack: result.foreignHandedBack,
    },
    elapsedSecs: round((result.endedAt - started) / 1000, 3),
    sendSecs: round(sendMs / 1000, 3),
    throughput: {
      sentPerSec: r.sent > 1 && sendMs > 0 ? round(((r.sent - 1) * 1000) / sendMs, 1) : null,
      reconciledPerSec: r.reconciled > 0 && backMs > 0 ? round((r.reconciled * 1000) / backMs, 1) : null,
    },
    latencyMs: roundStats(latencyStats(r.latencies())),
    interrupted: result.interrupted,
  };
}

/** 0 only when every message came back (and under `--max-p99`); see the help text for the rest. */
export function exitStatus(summary: Summary, maxP99Ms: number | null): number {
  if (summary.reconciled < summary.requested) {
    return summary.interrupted ? TESTER_EXIT.INTERRUPTED : TESTER_EXIT.LOST;
  }
  if (maxP99Ms !== null && summary.latencyMs !== null && summary.latencyMs.p99 > maxP99Ms) {
    return TESTER_EXIT.SLOW;
  }
  return TESTER_EXIT.OK;
}

/** The summary as people read it, one fact per line. */
export function formatSummary(s: Summary): string {
  const lat = s.latencyMs;
  const rate = (v: number | null) => v === null ? "-" : `${Math.round(v)}/s`;
  const lines = [
    `Sent        ${s.sent} of ${s.requested} (confirmed by the broker: ${s.confirmed}${
      s.republished ? `, sent again after a reconnect: ${s.republished}` : ""
    })`,
    `Reconciled  ${s.reconciled} of ${s.requested}`,
    `Lost        ${s.lost}${s.unsent ? ` (and ${s.unsent} never sent: interrupted)` : ""}`,
    `Duplicates  ${s.duplicates}`,
    `Not ours    ${s.foreign.deliveries} received (${s.foreign.rejected} handed back, ${s.foreign.consumed} consumed)`,
    `Elapsed     ${formatMs(s.elapsedSecs * 1000)} (sending ${formatMs(s.sendSecs * 1000)})`,
    `Throughput  sent ${rate(s.throughput.sentPerSec)}, reconciled ${rate(s.throughput.reconciledPerSec)}`,
    lat
      ? `Latency ms  min ${formatMsValue(lat.min)}  p50 ${formatMsValue(lat.p50)}  p95 ${
        formatMsValue(lat.p95)
      }  p99 ${formatMsValue(lat.p99)}  max ${formatMsValue(lat.max)}`
      : "Latency ms  - (nothing came back)",
  ];
  return lines.join("\n");
}

/** The `-r` line, worded as the original printed it. */
export function reconciledLine(s: Summary): string {
  return `Number of messages reconciled: ${s.reconciled} of ${s.requested}`;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function roundStats(stats: LatencyStats | null): LatencyStats | null {
  if (stats === null) return null;
  const r = (v: number) => round(v, 3);
  return {
    count: stats.count,
    min: r(stats.min),
    p50: r(stats.p50),
    p95: r(stats.p95),
    p99: r(stats.p99),
    max: r(stats.max),
  };
}

/** Where and how the run was made, for the JSON summary. */
export interface RunContext {
  version: string;
  config: string;
  broker: string;
  toWs: string;
  fromWs: string;
  options: {
    count: number;
    delaySecs: number;
    endDelaySecs: number;
    exclusive: boolean;
    size: number | null;
  };
}

/** The `--json` document: the context, every summary field, and the exit status. */
export function summaryRecord(s: Summary, context: RunContext, status: number): Record<string, unknown> {
  return { tool: "bridgetester", ...context, ...s, exitStatus: status };
}
