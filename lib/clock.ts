/**
 * Time, passed in rather than read globally: for measurements, a monotonic
 * clock (never jumps with NTP or a manual clock change, so latencies are
 * exact) plus the wall-clock time of a monotonic instant, for display only;
 * for the delivery code, a monotonic `now()` and one-shot timers, so the
 * acknowledgement rule and the log summaries can be tested with a clock the
 * test moves by hand.
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

/** Opaque timer handle: what `setTimeout` returned, given back to `clearTimeout`. */
export type TimerHandle = unknown;

/** Monotonic milliseconds and timers. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** The real clock: performance.now() and the runtime's timers. */
export const systemTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout> | undefined),
};
