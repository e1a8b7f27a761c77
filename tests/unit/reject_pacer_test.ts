/** RejectPacer: foreign messages are handed back, but never in a hot loop (pure, fake timers). */
import assert from "node:assert/strict";
import { holdMs, RejectPacer } from "../../tester/reject_pacer.ts";
import type { MqAckHandle } from "../../handlers/mq/session.ts";

/** Timers that fire only when the test says so. */
class ManualTimers {
  now = 0;
  #next = 1;
  readonly pending = new Map<number, { at: number; fn: () => void }>();
  set = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  };
  clear = (id: unknown): void => {
    this.pending.delete(id as number);
  };
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.pending].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at > this.now) continue;
      this.pending.delete(id);
      t.fn();
    }
  }
}

function handle(tag: number): MqAckHandle {
  return { tag, generation: 1 };
}

Deno.test("holdMs() hands back at once the first time, then doubles up to the cap", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map((n) => holdMs(n, 50, 1000)), [
    0,
    50,
    100,
    200,
    400,
    800,
    1000,
    1000,
  ]);
});

Deno.test("RejectPacer.hold() rejects a first sighting at once and holds a redelivery", () => {
  const timers = new ManualTimers();
  const released: number[] = [];
  const pacer = new RejectPacer({
    release: (h) => released.push(h.tag),
    setTimer: timers.set,
    clearTimer: timers.clear,
    random: () => 0.5, // no jitter
  });
  assert.equal(pacer.hold("theirs", handle(1)), 0);
  assert.deepEqual(released, [1]);
  assert.equal(pacer.hold("theirs", handle(2)), 50);
  assert.equal(pacer.held, 1);
  timers.advance(49);
  assert.deepEqual(released, [1]);
  timers.advance(1);
  assert.deepEqual(released, [1, 2]);
  assert.equal(pacer.hold("theirs", handle(3)), 100);
  assert.equal(pacer.hold("other", handle(4)), 0, "sightings are counted per body");
  assert.equal(pacer.rejections, 3);
});

Deno.test("RejectPacer bounds a lone consumer to about one rejection per cap interval", async () => {
  const timers = new ManualTimers();
  let tag = 0;
  const pacer = new RejectPacer({
    // The broker hands a rejected message straight back to its only consumer.
    release: () => queueMicrotask(() => pacer.hold("nobody's", handle(++tag))),
    setTimer: timers.set,
    clearTimer: timers.clear,
    maxMs: 1000,
    random: () => 0.5, // no jitter: the bound is exact
  });
  pacer.hold("nobody's", handle(++tag));
  for (let ms = 0; ms < 30_000; ms += 10) {
    timers.advance(10);
    await Promise.resolve(); // let the redelivery arrive
  }
  assert.ok(pacer.rejections <= 36, `30 s as the only consumer: ${pacer.rejections} rejections`);
  assert.ok(pacer.rejections >= 30, "but it is handed back regularly");
});

Deno.test("RejectPacer.hold() jitters each hold between half and one and a half times", () => {
  const timers = new ManualTimers();
  for (const [draw, expected] of [[0, 250], [0.5, 500], [0.999, 750]] as const) {
    const pacer = new RejectPacer({
      release: () => {},
      setTimer: timers.set,
      clearTimer: timers.clear,
      random: () => draw,
    });
    for (let i = 0; i < 10; i++) pacer.hold("same", handle(i)); // the 10th sighting: at the 500 ms cap
    assert.equal(pacer.hold("same", handle(10)), expected);
    pacer.releaseAll();
  }
});

Deno.test("RejectPacer.releaseAll() hands back everything held and cancels the timers", () => {
  const timers = new ManualTimers();
  const released: number[] = [];
  const pacer = new RejectPacer({
    release: (h) => released.push(h.tag),
    setTimer: timers.set,
    clearTimer: timers.clear,
  });
  pacer.hold("x", handle(1));
  pacer.hold("x", handle(2));
  pacer.hold("x", handle(3));
  assert.equal(pacer.held, 2);
  assert.equal(pacer.maxHeld, 2);
  pacer.releaseAll();
  assert.deepEqual(released, [1, 2, 3]);
  assert.equal(pacer.held, 0);
  assert.equal(timers.pending.size, 0);
  pacer.releaseAll();
  assert.equal(released.length, 3, "twice is harmless");
});
