/** Repeated events as summary lines (lib/event_summary.ts), with a clock the test moves. */
import assert from "node:assert/strict";
import { EventSummary } from "../../lib/event_summary.ts";
import { bodyPreview } from "../../bridge/body_preview.ts";
import { FakeTimers } from "../_fakes.ts";

Deno.test("EventSummary says the first event at once, then one line per interval with the count since", () => {
  const timers = new FakeTimers();
  const lines: [string, number, number][] = [];
  const summary = new EventSummary<string>((last, n, span) => lines.push([last, n, span]), 1_000, timers);
  summary.note("a");
  for (let i = 0; i < 500; i++) summary.note(`b${i}`);
  assert.deepEqual(lines, [["a", 1, 0]]);
  timers.advance(1_000);
  assert.deepEqual(lines[1], ["b499", 500, 1_000]);
  timers.advance(5_000);
  assert.equal(lines.length, 2, "quiet intervals write nothing");
  summary.note("c");
  assert.deepEqual(lines[2], ["c", 1, 0], "after a quiet spell, at once again");
  summary.note("d", 3);
  summary.flush();
  assert.deepEqual(lines[3], ["d", 3, 0]);
  assert.equal(summary.total, 505);
  assert.equal(timers.pending, 0);
});

Deno.test("bodyPreview() shows the first 200 bytes: text as text, binary as hex, a cut marked", () => {
  assert.equal(bodyPreview(new TextEncoder().encode("héllo"), true), "héllo");
  assert.equal(bodyPreview(new Uint8Array([0, 0xab]), false), "hex:00ab");
  const long = bodyPreview(new TextEncoder().encode("x".repeat(201)), true);
  assert.equal(long, "x".repeat(200) + "…");
});
