/**
 * Time as the delivery code sees it: a monotonic `now()` and one-shot
 * timers. Passed in, so the acknowledgement rule and the log summaries can
 * be tested with a clock the test moves by hand.
 */

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
