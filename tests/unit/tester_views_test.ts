/** The views' layouts and lines, from a hand-made run state (pure, no terminal). */
import assert from "node:assert/strict";
import type { Clock } from "../../lib/clock.ts";
import { Reconciler } from "../../tester/reconcile.ts";
import { gridLines } from "../../tester/views/grid.ts";
import { PlainView } from "../../tester/views/plain.ts";
import { tableLines } from "../../tester/views/table.ts";
import type { Phase, RunState } from "../../tester/views/view.ts";

const clock: Clock = { now: () => 5000, wall: (mono) => new Date(2026, 0, 1, 12, 0, 0).getTime() + mono };

/** `count` messages, the first `sent` sent, those in `back` reconciled 2 ms later. */
function state(count: number, sent: number, back: number[], phase: Phase = "sending"): RunState {
  const r = new Reconciler(count);
  for (let i = 1; i <= sent; i++) r.recordSent(i, `Test msg #${i} (42.0000)`, i * 10);
  for (const i of back) r.receive(`Test msg #${i} (42.0000)`, i * 10 + 2);
  return {
    reconciler: r,
    clock,
    foreign: { deliveries: 0, rejected: 0, consumed: 0, held: 0 },
    phase,
    startedAt: 10,
    waitUntil: NaN,
    toWs: "to",
    fromWs: "from",
    brokerUrl: "amqp://x",
  };
}

Deno.test("gridLines() shows the counter, one cell per message and the status line", () => {
  const lines = gridLines(state(12, 5, [1, 2, 4]), { columns: 10, rows: 8 }, "working", "");
  assert.equal(lines.length, 8);
  assert.equal(lines[0], "[Msgs: 3 of 12]");
  assert.match(lines[1]!, /first missing: #3/);
  assert.equal(lines[2], "oo.o.     ");
  assert.equal(lines[3], "  ");
  assert.equal(lines[7], ">> working");
});

Deno.test("gridLines() scrolls to keep the newest message in view when the grid is taller than the screen", () => {
  const all = Array.from({ length: 95 }, (_, i) => i + 1);
  const lines = gridLines(state(200, 95, all), { columns: 10, rows: 7 }, "s", "");
  // 3 grid rows fit; message 95 is on row 10 of 20.
  assert.match(lines[1]!, /^rows 8-10 of 20 \| first missing: none/);
  assert.deepEqual(lines.slice(2, 5), ["oooooooooo", "oooooooooo", "ooooo     "]);
});

Deno.test("gridLines() follows a resize: the same run laid out for another width", () => {
  const s = state(50, 50, Array.from({ length: 50 }, (_, i) => i + 1), "done");
  assert.equal(gridLines(s, { columns: 100, rows: 10 }, "", "")[2], "o".repeat(50));
  const narrow = gridLines(s, { columns: 30, rows: 10 }, "", "");
  assert.deepEqual(narrow.slice(2, 4), ["o".repeat(30), "o".repeat(20)]);
});

Deno.test("tableLines() shows the counter, the columns and the newest rows that fit", () => {
  const lines = tableLines(state(10, 6, [5, 6]), { columns: 90, rows: 7 }, "status", "! notice");
  assert.equal(lines.length, 7);
  assert.match(lines[0]!, /^\[Msgs: 2 of 10\]/);
  assert.match(lines[1]!, /^Message +Sent At +Received At +Elapsed$/);
  assert.deepEqual(lines.slice(2, 5).map((l) => l.split(/\s{2,}/)[0]), [
    "Test msg #4 (42.0000)",
    "Test msg #5 (42.0000)",
    "Test msg #6 (42.0000)",
  ]);
  assert.match(lines[2]!, /12:00:00\.040 +--- +---$/);
  assert.match(lines[3]!, /12:00:00\.050 +12:00:00\.052 +2\.00 ms$/);
  assert.equal(lines[5], "! notice");
  assert.equal(lines[6], ">> status");
});

Deno.test("PlainView writes a line per send and receipt; -f drops foreign ones, -q all of them", () => {
  for (const mode of ["all", "focused", "quiet"] as const) {
    const chunks: string[] = [];
    const out = { writeSync: (b: Uint8Array) => (chunks.push(new TextDecoder().decode(b)), b.length) };
    const view = new PlainView({ out, focused: mode === "focused", quiet: mode === "quiet" });
    const s = state(2, 1, [1]);
    view.begin(s);
    view.sent(1);
    view.received({ outcome: "reconciled", index: 1, body: "Test msg #1 (42.0000)", action: "ack" });
    view.received({ outcome: "foreign", index: 0, body: "\x1b[2Jtheirs", action: "reject" });
    view.tick();
    view.close();
    const text = chunks.join("");
    assert.equal(/>>> 12:00:00\.010 sent Test msg #1/.test(text), mode !== "quiet", mode);
    assert.equal(/<<< \S+ back Test msg #1 \(42\.0000\) in 2\.00 ms/.test(text), mode !== "quiet", mode);
    assert.equal(/not ours, handed back: \\x1b\[2Jtheirs/.test(text), mode === "all", mode);
    assert.match(
      text,
      /^\[ +0 s\] sent 1 \(\S+\), back 1 \(\S+\), outstanding 0, latency ms p50 2\.00 p95 2\.00/m,
    );
  }
});
