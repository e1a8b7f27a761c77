/**
 * What the broker refuses for good, on a private RabbitMQ node whose limits a
 * test may change (chaos/private_broker.ts): a WebSocket message over the
 * broker's max_message_size would be refused on every attempt and hold up
 * everything behind it, so the bridge drops it (counted, logged) and goes on.
 */
import assert from "node:assert/strict";
import { PrivateBroker } from "../../chaos/private_broker.ts";
import { FROM_WS_DROPPED_TOTAL } from "../../lib/metrics.ts";
import { bridgeValues, startBridge } from "../_bridge.ts";
import { openBroker } from "../_broker.ts";
import { startWsServer } from "../_ws_server.ts";

Deno.test("runBridge() drops a WebSocket message over the broker's max_message_size and bridges what follows [integration]", async () => {
  await using node = await PrivateBroker.start();
  await node.ctl(["eval", "application:set_env(rabbit, max_message_size, 1048576)."]);
  await using broker = await openBroker(node.url);
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer({ echo: false });
  const connected = server.nextConnection();
  await using bridge = await startBridge(bridgeValues({ toWs, fromWs, wsUrl: server.url, mqUrl: node.url }));
  const socket = await connected;
  socket.send("before");
  socket.send(new Uint8Array(2 * 1_048_576)); // under mq_buffer_bytes (16 MiB), over the broker's 1 MiB
  socket.send("after");
  // The refusal closes the publishing channel: what it had not confirmed yet ("before", if the three came
  // together) is published again, with the same message_id. At least once, never the big one.
  const distinct = (all: { text: string }[]) => [...new Set(all.map((m) => m.text))];
  const got = await broker.collect(fromWs, 2, 30_000, (all) => distinct(all).length >= 2);
  assert.deepEqual(distinct(got), ["before", "after"]);
  for (const m of got) {
    assert.equal(
      m.properties.messageId,
      got.find((f) => f.text === m.text)!.properties.messageId,
      "a duplicate keeps its id",
    );
  }
  await bridge.sink.waitFor(/ERROR .*Rejected WebSocket messages larger than the broker.s max_message_size/)
    .catch((e) => {
      throw new Error(e.message + bridge.sink.text);
    });
  assert.equal(bridge.metrics.counter(FROM_WS_DROPPED_TOTAL), 1);
  socket.send(new Uint8Array(1_048_577)); // refused at once now, not sent to the broker again
  socket.send("last");
  const rest = await broker.collect(fromWs, 1, 30_000, (all) => all.some((m) => m.text === "last"));
  assert.ok(
    distinct(rest).every((t) => ["before", "after", "last"].includes(t)),
    "nothing but repeats and last",
  );
  assert.equal(bridge.metrics.counter(FROM_WS_DROPPED_TOTAL), 2);
});

Deno.test("runBridge() -X dead-letters a to_ws message over the broker's max_message_size instead of looping on it [integration]", async () => {
  await using node = await PrivateBroker.start();
  await using broker = await openBroker(node.url);
  const dead = await broker.queue("dead");
  const toWs = await broker.queue("to_ws", {
    durable: true,
    arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead },
  });
  const fromWs = await broker.queue("from_ws");
  const big = new Uint8Array(2 * 1_048_576).fill(66); // under ws_max_message_bytes, over the broker's 1 MiB
  await broker.publish(toWs, ["before", big, "after"]);
  // The limit applies to channels opened from now on: the bridge's, not the test's, which published the big one.
  await node.ctl(["eval", "application:set_env(rabbit, max_message_size, 1048576)."]);
  await using bridge = await startBridge(bridgeValues({ toWs, fromWs, mqUrl: node.url }), { stub: true });
  // The refusal hands what was not yet acknowledged back once; the big message is then rejected for good.
  const [rejected] = await broker.collect(dead, 1, 30_000);
  assert.equal(rejected!.body.length, big.length);
  await bridge.sink.waitFor(/ERROR .*Rejected a message larger than the broker.s max_message_size/);
  await broker.publish(toWs, ["last"]);
  const texts = new Set<string>();
  await broker.collect(fromWs, 3, 30_000, (all) => {
    for (const m of all) texts.add(m.text);
    return texts.has("before") && texts.has("after") && texts.has("last");
  });
  assert.deepEqual([...texts].sort(), ["after", "before", "last"], "nothing else reached from_ws");
  assert.equal(await broker.ready(toWs), 0);
  assert.equal(await broker.ready(dead), 0, "rejected once, not again");
});
