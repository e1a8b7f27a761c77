/** When the relay writes what it was given (handlers/ws/write_pacing.ts), as numbers. */
import assert from "node:assert/strict";
import { BUSY_BATCH, COALESCE_MS, WritePacer } from "../../handlers/ws/write_pacing.ts";

Deno.test("WritePacer writes at once before any write and after small ones, however close together", () => {
  const pacer = new WritePacer();
  assert.equal(pacer.delay(0), 0, "the first write");
  for (let t = 0; t < 10; t += 0.1) {
    pacer.wrote(t, BUSY_BATCH - 1);
    assert.equal(pacer.delay(t), 0, `at ${t} ms`);
  }
});

Deno.test("WritePacer spaces the writes after a batch by COALESCE_MS, counted from that write", () => {
  const pacer = new WritePacer();
  pacer.wrote(100, BUSY_BATCH);
  assert.equal(pacer.delay(100), COALESCE_MS);
  assert.equal(pacer.delay(100 + COALESCE_MS / 2), COALESCE_MS / 2);
  assert.equal(pacer.delay(100 + COALESCE_MS), 0, "the time has passed");
  assert.equal(pacer.delay(100 + 50), 0, "after a pause, at once");
});

Deno.test("WritePacer goes back to writing at once when a paced write was small", () => {
  const pacer = new WritePacer();
  pacer.wrote(0, 40);
  assert.ok(pacer.delay(1) > 0);
  pacer.wrote(COALESCE_MS, 1); // the traffic dropped to one message per write
  assert.equal(pacer.delay(COALESCE_MS + 0.1), 0);
});

Deno.test("WritePacer takes another interval (tests lengthen it)", () => {
  const pacer = new WritePacer(600_000);
  pacer.wrote(0, BUSY_BATCH);
  assert.equal(pacer.delay(1), 599_999);
});
