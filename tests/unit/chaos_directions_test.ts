/**
 * The chaos suite's counting per direction (chaos/directions.ts), on made-up
 * tallies and API reports: no broker or process needed.
 */
import assert from "node:assert/strict";
import type { ApiReceived, ApiSent } from "../../chaos/api_process.ts";
import { eachMessageOnce, fromEpoch, fromWsOfApi, recoveryOf, toWsAtApi } from "../../chaos/directions.ts";
import { Tally } from "../../chaos/tally.ts";
import type { DirectionResult } from "../../chaos/types.ts";

const epoch = (monotonic: number) => monotonic + performance.timeOrigin;

function sentLoad(count: number): Tally {
  const load = new Tally(count, "chaos t #");
  for (let i = 1; i <= count; i++) load.recordSent(i, i * 10);
  return load;
}

function received(copies: number[], firstAt: (number | null)[]): ApiReceived {
  return {
    prefix: "chaos t #",
    count: copies.length - 1,
    distinct: 0,
    duplicates: 0,
    missingCount: 0,
    missing: [],
    beyond: 0,
    copies,
    firstAt,
  };
}

Deno.test("toWsAtApi() adds up the receipts of every API process and keeps the earliest time", () => {
  const load = sentLoad(4);
  const first = received([0, 1, 1, 0, 0], [null, epoch(15), epoch(25), null, null]);
  const second = received([0, 0, 1, 1, 0], [null, null, epoch(99), epoch(45), null]);
  const tally = toWsAtApi(load, [first, second], null);
  assert.deepEqual([tally.sent, tally.distinct, tally.lost, tally.duplicates], [4, 3, 1, 1]);
  assert.deepEqual(tally.missing(), [4]);
  assert.ok(Math.abs(tally.backAt[2]! - 25) < 0.01, `earliest receipt of #2: ${tally.backAt[2]}`);
});

Deno.test("toWsAtApi() counts an echoed message as received when no API report has it", () => {
  const load = sentLoad(3);
  load.receive("chaos t #3 ", 80); // its echo came back
  const tally = toWsAtApi(load, [received([0, 1, 0, 0], [null, epoch(15), null, null])], load);
  assert.deepEqual(tally.missing(), [2]);
  assert.equal(tally.distinct, 2);
});

Deno.test("fromWsOfApi() takes the send times from the API and the receipts from the load", () => {
  const live = new Tally(3, "api t #", { anyIndex: true });
  live.receive("api t #1 ...", 30);
  live.receive("api t #1 ...", 31);
  const sent: ApiSent = {
    prefix: "api t #",
    count: 3,
    bytes: 10,
    rate: 0,
    from: 1,
    next: 3,
    sent: 2,
    done: true,
    sentAt: [null, epoch(10), epoch(20), null],
  };
  const tally = fromWsOfApi(live, [sent]);
  assert.deepEqual([tally.sent, tally.distinct, tally.lost, tally.duplicates], [2, 1, 1, 1]);
  const fault = { label: "f", at: 15, anyBack: false, repairedAt: null };
  assert.equal(recoveryOf(tally, fault), null, "#2, the only message sent after the fault, never came");
  assert.equal(recoveryOf(tally, { ...fault, at: 5 }), 25);
  assert.ok(Math.abs(fromEpoch(epoch(123)) - 123) < 0.01);
});

Deno.test("eachMessageOnce() counts a to_ws message by its round trip where there is one", () => {
  const row = (name: DirectionResult["name"]) => ({ name }) as DirectionResult;
  const names = (rows: DirectionResult[]) => eachMessageOnce(rows).map((d) => d.name);
  assert.deepEqual(names([row("round_trip"), row("to_ws"), row("from_ws")]), ["round_trip", "from_ws"]);
  assert.deepEqual(names([row("to_ws"), row("from_ws")]), ["to_ws", "from_ws"]);
});
