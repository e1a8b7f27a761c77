/** When the relay writes what it was given (handlers/ws/write_pacing.ts), as numbers. */
import assert from "node:assert/strict";
import { BUSY_BATCH, BUSY_BYTES, COALESCE_MS, WritePacer } from "../../handlers/ws/write_pacing.ts";

Deno.test("WritePacer writes at once before any write and after small ones, however close together", () => {
  const pacer = new WritePacer();
  assert.equal(pacer.delay(0), 0, "the first write");
  for (let t = 0; t < 10; t += 0.1) {
    pacer.wrote(t, BUSY_BATCH - 1, 300);
    assert.equal(pacer.delay(t), 0, `at ${t} ms`);
  }
});

Deno.test("WritePacer spaces the writes after a batch by ws_coalesce_ms, counted from that write", () => {
  const pacer = new WritePacer();
  pacer.wrote(100, BUSY_BATCH, 400);
  assert.equal(pacer.delay(100), COALESCE_MS);
  assert.equal(pacer.delay(100 + COALESCE_MS / 2), COALESCE_MS / 2);
  assert.equal(pacer.delay(100 + COALESCE_MS), 0, "the time has passed");
  assert.equal(pacer.delay(100 + 50), 0, "after a pause, at once");
});

Deno.test("WritePacer does not pace after a large write, nor after a small one that follows a batch", () => {
  const pacer = new WritePacer();
  pacer.wrote(0, 40, BUSY_BYTES);
  assert.equal(pacer.delay(0.5), 0, "a large write: its system calls are few");
  pacer.wrote(1, 40, BUSY_BYTES - 1);
  assert.ok(pacer.delay(1.5) > 0);
  pacer.wrote(1 + COALESCE_MS, 1, 100); // the traffic dropped to one message per write
  assert.equal(pacer.delay(1 + COALESCE_MS + 0.1), 0);
});

Deno.test("WritePacer takes the interval it is given, and 0 turns it off", () => {
  const long = new WritePacer(600_000);
  long.wrote(0, BUSY_BATCH, 400);
  assert.equal(long.delay(1), 599_999);
  const off = new WritePacer(0);
  off.wrote(0, 1_000, 400);
  assert.equal(off.delay(0), 0);
});
