/**
 * Counting per direction. The load's own tally is the round trip (what the
 * endpoint echoed); with the API stand-in, two more are built at the end
 * from what the API reports, on the harness's clock:
 *
 * - to_ws: the load's send times, the API's receipts (added up over every
 *   API process of the run, since a killed one is replaced);
 * - from_ws: the API's send times (its word: send() on an open socket), the
 *   load's receipts from the from_ws queue.
 *
 * The API reports epoch milliseconds; `performance.timeOrigin` turns them
 * into this process's monotonic time, the clock of every fault.
 */
import type { ApiReceived, ApiSent } from "./api_process.ts";
import { Tally } from "./tally.ts";
import type { DirectionName, DirectionResult, Fault } from "./types.ts";

/** An epoch time from another process on this machine, as performance.now() here. */
export function fromEpoch(epochMs: number): number {
  return epochMs - performance.timeOrigin;
}

/**
 * The to_ws direction as the API saw it. `echoed` (the round trip), when
 * given, also counts as received for a message no API report has: its echo
 * came back, so an API received it (one killed after its counters were read).
 */
export function toWsAtApi(load: Tally, reports: ApiReceived[], echoed: Tally | null): Tally {
  const tally = new Tally(load.count, load.prefix);
  for (let i = 1; i <= load.count; i++) {
    if (!Number.isNaN(load.sentAt[i]!)) tally.markSent(i, load.sentAt[i]!);
  }
  const { copies, firstAt } = merge(load.count, reports.map((r) => ({ copies: r.copies, times: r.firstAt })));
  for (let i = 1; i <= load.count; i++) {
    if (copies[i]! > 0) tally.receiveIndex(i, fromEpoch(firstAt[i]!), copies[i]!);
    else if (echoed && echoed.copies[i]! > 0) tally.receiveIndex(i, echoed.backAt[i]!);
  }
  return tally;
}

/** The from_ws direction: the API's send times (over every API process), the load's live receipts. */
export function fromWsOfApi(received: Tally, sentReports: ApiSent[]): Tally {
  const tally = new Tally(received.count, received.prefix);
  for (const report of sentReports) {
    report.sentAt?.forEach((at, i) => {
      if (at !== null && i >= 1 && i <= tally.count) tally.markSent(i, fromEpoch(at));
    });
  }
  for (let i = 1; i <= received.count; i++) {
    if (received.copies[i]! > 0) tally.receiveIndex(i, received.backAt[i]!, received.copies[i]!);
  }
  tally.foreign += received.foreign;
  return tally;
}

/**
 * The rows that count each message once, for totals: a to_ws message by its
 * round trip where the endpoint echoes (lost at the API is lost there too),
 * else by the API's count; the API's own messages by from_ws.
 */
export function eachMessageOnce(rows: DirectionResult[]): DirectionResult[] {
  const echoed = rows.some((d) => d.name === "round_trip");
  return rows.filter((d) => d.name !== "to_ws" || !echoed);
}

/** Milliseconds from a fault (or its repair) to its recovery on `tally`; null if it never did. */
export function recoveryOf(tally: Tally, fault: Fault): number | null {
  const from = fault.repairedAt ?? fault.at;
  const ms = fault.anyBack ? tally.firstBackAfter(from) : tally.recoveryAfter(from);
  return Number.isNaN(ms) ? null : Math.round(ms * 10) / 10;
}

/** One direction's row. */
export function directionResult(
  name: DirectionName,
  tally: Tally,
  faults: Fault[],
  opts: { requested: number; expectsLoss: boolean },
): DirectionResult {
  const recover = faults.map((f) => recoveryOf(tally, f));
  return {
    name,
    requested: opts.requested,
    sent: tally.sent,
    received: tally.distinct,
    lost: tally.lost,
    duplicates: tally.duplicates,
    missing: tally.missing(),
    recoverMs: recover.includes(null) ? null : Math.max(0, ...(recover as number[])),
    foreign: tally.foreign,
    expectsLoss: opts.expectsLoss,
  };
}

/** Copies added up and earliest first-receipt time, per index 0..count. */
function merge(
  count: number,
  parts: { copies?: number[] | undefined; times?: (number | null)[] | undefined }[],
) {
  const copies = new Uint32Array(count + 1);
  const firstAt = new Float64Array(count + 1).fill(Infinity);
  for (const part of parts) {
    for (let i = 1; i <= count; i++) {
      const n = part.copies?.[i] ?? 0;
      if (n === 0) continue;
      copies[i]! += n;
      firstAt[i] = Math.min(firstAt[i]!, part.times?.[i] ?? Infinity);
    }
  }
  return { copies, firstAt };
}
