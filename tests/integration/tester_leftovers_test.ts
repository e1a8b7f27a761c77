/** leftoverLines(): what a bridgetester run says it left on the queues (pure, no services). */
import assert from "node:assert/strict";
import { type LeftoverContext, leftoverLines } from "../../tester/leftovers.ts";
import type { Summary } from "../../tester/summary.ts";

const CTX: LeftoverContext = {
  toWs: "orders.to_ws",
  fromWs: "orders from ws",
  exclusive: false,
  testTtlMs: 300_000,
  fromWsTtlMs: 90_000,
  configArgs: "-s --ssm-region eu-west-1",
};

function summary(lost: number, handedBack: number): Summary {
  return {
    lost,
    foreign: { deliveries: handedBack, rejected: handedBack, consumed: 0, handedBack },
  } as Summary;
}

Deno.test("leftoverLines() says nothing when every message came back and nothing was handed back", () => {
  assert.deepEqual(leftoverLines(summary(0, 0), CTX), []);
});

Deno.test("leftoverLines() counts the run's own messages left behind, where they are and how to clear them", () => {
  const [what, how, ...rest] = leftoverLines(summary(1, 0), CTX);
  assert.deepEqual(rest, []);
  assert.match(what!, /^Left on the broker: 1 test message of this run did not come back\. /);
  assert.match(what!, /still on queue "orders\.to_ws" if no bridge took it, until it expires 5 min after/);
  assert.match(what!, /reply may still arrive on "orders from ws" \(kept there up to 90 s, mq_ttl_from_ws\)/);
  assert.match(how!, /rabbitmqctl purge_queue orders\.to_ws \(on Amazon MQ: /);
  assert.match(how!, /bridgetester -s --ssm-region eu-west-1 -x -n 1 -d 0 -e 10/);
});

Deno.test("leftoverLines() counts foreign messages handed back, quoting a queue name for the shell", () => {
  const lines = leftoverLines(summary(0, 3), CTX);
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    /^Left on the broker: 3 messages on queue "orders from ws" were not this run's and were handed back \(-x was off\); they stay/,
  );
  assert.match(lines[1]!, /rabbitmqctl purge_queue 'orders from ws' /);
  assert.deepEqual(leftoverLines(summary(0, 3), { ...CTX, exclusive: true }), [], "-x consumed them");
});
