/**
 * Time for measurements: a monotonic clock (never jumps with NTP or a manual
 * clock change, so latencies are exact), plus the wall-clock time of a
 * monotonic instant, for display only.
 */

/** Monotonic milliseconds, and their wall-clock equivalent. */
export interface Clock {
  /** Monotonic time in milliseconds (origin unspecified). */
  now(): number;
  /** Epoch milliseconds of the monotonic instant `mono`. */
  wall(mono: number): number;
}

/** The process clock: `performance.now()` anchored to `Date.now()` once, at creation. */
export function systemClock(): Clock {
  const originMono = performance.now();
  const originWall = Date.now();
  return {
    now: () => performance.now(),
    wall: (mono) => originWall + (mono - originMono),
  };
}
