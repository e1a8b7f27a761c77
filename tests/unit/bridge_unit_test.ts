/**
 * runBridge() on the core's ports alone (bridge/ports.ts): fake broker
 * sessions, a fake WebSocket side. The same wiring runs against RabbitMQ in
 * bridge_test.ts; here each step is driven and seen directly.
 */
import assert from "node:assert/strict";
import { runBridge } from "../../bridge/bridge.ts";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { createLogger } from "../../lib/log.ts";
import { FakeSource, FakeTarget, FakeTimers, FakeWsSide } from "../_fakes.ts";
import { bridgeValues, testConfig, WatchedSink } from "../_bridge.ts";

Deno.test("runBridge() with fakes carries a message each way and acknowledges after the reply is confirmed", async () => {
  const values = bridgeValues({ toWs: "to", fromWs: "from", wsUrl: "ws://127.0.0.1:9" }, {
    "ws_api.ws_ack_delay_ms": "0",
  });
  const config = testConfig(values);
  const consumer = new FakeSource();
  const publisher = new FakeTarget();
  let side: FakeWsSide | null = null;
  const controller = new AbortController();
  const sink = new WatchedSink();
  const timers = new FakeTimers();
  const done = runBridge({
    config,
    consumer,
    publisher,
    createWs: (handlers) => side = new FakeWsSide(handlers),
    log: createLogger({ sink, info: true, debug: false }),
    metrics: new MetricsRegistry(),
    clock: timers,
  }, controller.signal);
  await sink.waitFor(/Bridging .*mode=websocket/);
  assert.ok(side, "the WebSocket side was created");
  const ws = side as FakeWsSide;
  consumer.deliver("request");
  assert.deepEqual(ws.conn.frames.items, ["request"], "sent to the API");
  ws.fromApi("reply"); // the API answers before the request's frame is written out
  await publisher.calls.reach(1, "the reply published");
  assert.equal(publisher.published[0]!.queue, "from");
  ws.writeOut();
  timers.advance(1_000);
  assert.equal(consumer.acks.items.length, 0, "the request waits for its reply's confirm");
  publisher.published[0]!.resolve();
  await consumer.acks.reach(1, "the request's ack");
  assert.deepEqual(consumer.acks.items, [{ kind: "ack", tag: 1, allUpTo: true, requeue: false }]);
  controller.abort();
  await done;
  assert.match(sink.text, /Stopped/);
});
