/** When the relay writes what it was given (handlers/ws/write_pacing.ts), as numbers. */
import assert from "node:assert/strict";
import { BUSY_BATCH, BUSY_BYTES, COALESCE_MS, WritePacer } from "../../handlers/ws/write_pacing.ts";

/** A pacer that has just written two batches, the second at `at`. */
function afterTwoBatches(at: number, coalesceMs = COALESCE_MS): WritePacer {
  const pacer = new WritePacer(coalesceMs);
  pacer.wrote(at - 1, BUSY_BATCH, 400);
  pacer.wrote(at, BUSY_BATCH, 400);
  return pacer;
}

Deno.test("WritePacer writes at once before any write and after small ones, however close together", () => {
  const pacer = new WritePacer();
  assert.equal(pacer.delay(0), 0, "the first write");
  for (let t = 0; t < 10; t += 0.1) {
    pacer.wrote(t, BUSY_BATCH - 1, 300);
    assert.equal(pacer.delay(t), 0, `at ${t} ms`);
  }
});

Deno.test("WritePacer does not pace after one batch alone (a broker's pause at a low rate)", () => {
  const pacer = new WritePacer();
  pacer.wrote(0, 1, 100);
  pacer.wrote(1, 50, 5_000);
  assert.equal(pacer.delay(1), 0);
});

Deno.test("WritePacer spaces the writes after two batches by ws_coalesce_ms, counted from the last", () => {
  const pacer = afterTwoBatches(100);
  assert.equal(pacer.delay(100), COALESCE_MS);
  assert.equal(pacer.delay(100 + COALESCE_MS / 2), COALESCE_MS / 2);
  assert.equal(pacer.delay(100 + COALESCE_MS), 0, "the time has passed");
  assert.equal(pacer.delay(100 + 50), 0, "after a pause, at once");
  pacer.wrote(100 + COALESCE_MS, BUSY_BATCH, 400); // still batches: still paced
  assert.equal(pacer.delay(100 + COALESCE_MS), COALESCE_MS);
});

Deno.test("WritePacer does not pace after a large write, nor after a small one that follows batches", () => {
  const pacer = afterTwoBatches(1);
  pacer.wrote(2, 40, BUSY_BYTES);
  assert.equal(pacer.delay(2.5), 0, "a large write: its system calls are few");
  const slower = afterTwoBatches(1);
  slower.wrote(1 + COALESCE_MS, 1, 100); // the traffic dropped to one message per write
  assert.equal(slower.delay(1 + COALESCE_MS + 0.1), 0);
});

Deno.test("WritePacer takes the interval it is given, and 0 turns it off", () => {
  assert.equal(afterTwoBatches(0, 600_000).delay(1), 599_999);
  assert.equal(afterTwoBatches(0, 0).delay(0), 0);
});
