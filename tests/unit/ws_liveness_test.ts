/** When the relay pings and when it gives a connection up (handlers/ws/liveness.ts), as numbers. */
import assert from "node:assert/strict";
import { judgeLiveness, type LinkActivity } from "../../handlers/ws/liveness.ts";

const I = 10_000;
const at = (now: number, over: Partial<LinkActivity> = {}): LinkActivity => ({
  now,
  lastReadAt: 0,
  writing: false,
  lastWriteAt: 0,
  lastDrainAt: -Infinity,
  pingOutstanding: false,
  paused: false,
  ...over,
});

Deno.test("judgeLiveness() pings after an interval of silence, once", () => {
  assert.equal(judgeLiveness(at(I - 1), I), "ok");
  assert.equal(judgeLiveness(at(I), I), "ping");
  assert.equal(judgeLiveness(at(I + 1, { pingOutstanding: true }), I), "ok", "one ping at a time");
});

Deno.test("judgeLiveness() gives up after two intervals with nothing received and nothing draining", () => {
  assert.equal(judgeLiveness(at(2 * I - 1, { pingOutstanding: true }), I), "ok");
  assert.equal(judgeLiveness(at(2 * I, { pingOutstanding: true }), I), "dead");
  // Writes that complete at once prove nothing: the kernel takes them whether or not anyone reads.
  assert.equal(judgeLiveness(at(2 * I, { lastWriteAt: 2 * I - 1 }), I), "dead");
});

Deno.test("judgeLiveness() keeps a slow reader: a waiting write completed within the last interval", () => {
  const slow = { writing: true, pingOutstanding: true };
  assert.equal(judgeLiveness(at(5 * I, { ...slow, lastWriteAt: 5 * I - I + 1 }), I), "ok");
  assert.equal(
    judgeLiveness(at(5 * I, { ...slow, lastWriteAt: 5 * I - I }), I),
    "dead",
    "stuck for an interval",
  );
});

Deno.test("judgeLiveness() judges nothing while reading is paused or pings are off", () => {
  assert.equal(judgeLiveness(at(100 * I, { paused: true }), I), "ok");
  assert.equal(judgeLiveness(at(100 * I), 0), "ok");
});
