/**
 * The chaos suite's short form for CI: the scenario code of `deno task chaos`
 * (chaos/scenarios.ts) at the QUICK size (2,000 messages at 500 msg/s, two
 * faults each; some scenarios need a little more), on the real broker with
 * real bridge and echo-server processes. Each test asserts that no message
 * was lost and that the scenario's own checks held; duplicates are allowed
 * (at-least-once) and shown in the failure message with everything else.
 */
import assert from "node:assert/strict";
import { QUICK } from "../chaos/chaos.ts";
import { runScenario, type Scenario } from "../chaos/harness.ts";
import { resultLines } from "../chaos/report.ts";
import { bridgeRestart, brokerClose, slowConsumer, twoBridges, wsKill } from "../chaos/scenarios.ts";

async function assertNothingLost(scenario: Scenario): Promise<void> {
  const result = await runScenario(scenario, QUICK);
  const report = resultLines(result).join("\n");
  assert.equal(result.sent, result.requested, `not every message was sent:\n${report}`);
  assert.equal(result.lost, 0, `messages lost:\n${report}`);
  assert.ok(result.ok, `scenario failed:\n${report}`);
  assert.ok(result.faults.length > 0 && result.recoverMs !== null, `no fault recovered:\n${report}`);
}

Deno.test("mq2wsbridge loses no message when the WebSocket server is SIGKILLed and restarted [integration]", () =>
  assertNothingLost(wsKill()));

Deno.test("mq2wsbridge loses no message when the broker closes its connection [integration]", () =>
  assertNothingLost(brokerClose("websocket")));

Deno.test("mq2wsbridge holds bounded memory while the WebSocket server stops reading, then resumes [integration]", () =>
  assertNothingLost(slowConsumer()));

Deno.test("mq2wsbridge loses no message when it gets SIGTERM mid-load and starts again [integration]", () =>
  assertNothingLost(bridgeRestart("websocket", "SIGTERM")));

Deno.test("mq2wsbridge loses no message when it is SIGKILLed mid-load and starts again [integration]", () =>
  assertNothingLost(bridgeRestart("websocket", "SIGKILL")));

Deno.test("mq2wsbridge -X loses no message when it is SIGKILLed mid-load and starts again [integration]", () =>
  assertNothingLost(bridgeRestart("stub", "SIGKILL")));

Deno.test("mq2wsbridge loses no message when one of two bridges on the same queues is stopped [integration]", () =>
  assertNothingLost(twoBridges("websocket", "SIGTERM")));
