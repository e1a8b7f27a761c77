/**
 * A one-shot timer of any length. `setTimeout` holds its delay in a signed
 * 32-bit integer: anything over 2^31-1 ms (24.8 days) fires after 1 ms
 * instead (with a TimeoutOverflowWarning), so `--runsecs 2592000` (30 days)
 * would stop the service at once. This timer waits in steps no longer than
 * that, against a monotonic deadline.
 */

/** The longest delay `setTimeout` honours, in ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** What the timer runs on; tests pass a fake clock and scheduler. */
export interface TimerDeps {
  /** Monotonic milliseconds. */
  now(): number;
  /** Runs `fn` after `ms`; returns what cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

const REAL: TimerDeps = {
  now: () => performance.now(),
  schedule: (fn, ms) => {
    const id = setTimeout(fn, ms);
    return () => clearTimeout(id);
  },
};

/** Calls `fn` once, `ms` milliseconds from now (any finite length); dispose to cancel. */
export function longTimeout(fn: () => void, ms: number, deps: TimerDeps = REAL): Disposable {
  const deadline = deps.now() + ms;
  let cancel: (() => void) | null = null;
  const step = () => {
    const left = deadline - deps.now();
    if (left <= 0) {
      cancel = null;
      fn();
      return;
    }
    cancel = deps.schedule(step, Math.min(left, MAX_TIMEOUT_MS));
  };
  step();
  return {
    [Symbol.dispose]: () => {
      cancel?.();
      cancel = null;
    },
  };
}
