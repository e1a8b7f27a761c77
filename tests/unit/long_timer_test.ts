/** longTimeout(): a timer of any length, in steps setTimeout honours (fake clock; the real CLI is in cli_test.ts). */
import assert from "node:assert/strict";
import { longTimeout, MAX_TIMEOUT_MS, type TimerDeps } from "../../lib/long_timer.ts";

/** A fake clock whose scheduled steps run when `advance` passes them. */
function fakeTime() {
  let now = 0;
  let pending: { at: number; fn: () => void; ms: number } | null = null;
  const asked: number[] = [];
  const deps: TimerDeps = {
    now: () => now,
    schedule: (fn, ms) => {
      asked.push(ms);
      const entry = { at: now + ms, fn, ms };
      pending = entry;
      return () => {
        if (pending === entry) pending = null;
      };
    },
  };
  /** Moves time to the next scheduled step and runs it; false when nothing is scheduled. */
  const step = () => {
    const next = pending;
    if (next === null) return false;
    pending = null;
    now = next.at;
    next.fn();
    return true;
  };
  return {
    deps,
    asked,
    step,
    get now() {
      return now;
    },
  };
}

Deno.test("longTimeout() waits 30 days in steps no longer than setTimeout's limit, then fires once", () => {
  const time = fakeTime();
  let fired = 0;
  const ms = 2_592_000 * 1000;
  longTimeout(() => fired++, ms, time.deps);
  while (time.step()) assert.equal(fired, time.now >= ms ? 1 : 0, `at ${time.now} ms`);
  assert.equal(fired, 1);
  assert.equal(time.now, ms);
  assert.ok(time.asked.every((step) => step > 0 && step <= MAX_TIMEOUT_MS), `${time.asked}`);
  assert.deepEqual(time.asked, [MAX_TIMEOUT_MS, ms - MAX_TIMEOUT_MS]);
});

Deno.test("longTimeout() is one plain step under the limit, and dispose cancels it", () => {
  const time = fakeTime();
  let fired = 0;
  const timer = longTimeout(() => fired++, 1500, time.deps);
  assert.deepEqual(time.asked, [1500]);
  timer[Symbol.dispose]();
  assert.equal(time.step(), false, "nothing left scheduled");
  assert.equal(fired, 0);
});

Deno.test("longTimeout() keeps waiting when a step fires early", () => {
  let now = 0;
  const steps: { fn: () => void; ms: number }[] = [];
  const deps: TimerDeps = { now: () => now, schedule: (fn, ms) => (steps.push({ fn, ms }), () => {}) };
  let fired = 0;
  longTimeout(() => fired++, 1000, deps);
  now = 998; // the runtime woke us 2 ms early
  steps[0]!.fn();
  assert.equal(fired, 0);
  assert.equal(steps[1]?.ms, 2, "the rest is scheduled");
  now = 1000;
  steps[1]!.fn();
  assert.equal(fired, 1);
});
