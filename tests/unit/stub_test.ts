/**
 * Stub mode as an adapter (bridge/stub.ts): to_ws messages go through the
 * same publish path into from_ws and are acknowledged by the one rule once
 * the broker confirms them; the publishing connection's loss closes the
 * loopback and hands everything back. Fakes only (bridge/ports.ts).
 */
import assert from "node:assert/strict";
import { FromWsPublisher } from "../../bridge/from_ws.ts";
import { StubSide } from "../../bridge/stub.ts";
import { NO_REPLIES, ToWsPump } from "../../bridge/to_ws.ts";
import type { WsHandlers } from "../../bridge/ports.ts";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { createLogger, MemorySink } from "../../lib/log.ts";
import { FakeSource, FakeTarget, FakeTimers } from "../_fakes.ts";

function setup() {
  const source = new FakeSource();
  const target = new FakeTarget();
  const timers = new FakeTimers();
  const metrics = new MetricsRegistry();
  const log = createLogger({ sink: new MemorySink(), info: true, debug: false });
  const publisher = new FromWsPublisher(target, {
    queue: "from_ws",
    ttlMs: 1000,
    limit: 100,
    limitBytes: 1_000_000,
    window: 100,
    idPrefix: "s-",
  }, { log, metrics, clock: timers });
  const pump = new ToWsPump(source, {
    queue: "to_ws",
    consumerTag: "tag",
    ackDelayMs: 0,
    maxBufferedBytes: Infinity,
    maxMessageBytes: Infinity,
  }, { log, metrics, replies: NO_REPLIES, clock: timers });
  target.onDown(() => publisher.onMqDown());
  target.onUp(() => publisher.onMqUp());
  const handlers: WsHandlers = {
    onOpen: (conn) => pump.attach(conn),
    onClose: (conn) => pump.detach(conn),
    onWritten: (conn) => pump.onWritten(conn),
    onMessage: () => assert.fail("the stub receives nothing"),
  };
  const stub = new StubSide(publisher, handlers, target);
  return { source, target, timers, publisher, pump, stub };
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("StubSide publishes each to_ws message to from_ws and it is acknowledged once the broker confirms it", async () => {
  const { source, target, timers, stub } = setup();
  await stub.start();
  source.deliver("echo me");
  source.deliver(new Uint8Array([0xff]));
  await target.calls.reach(2, "two publishes");
  assert.deepEqual(target.published.map((p) => [p.queue, p.props.contentType]), [
    ["from_ws", "text/plain"],
    ["from_ws", "application/octet-stream"],
  ]);
  timers.advance(100);
  assert.equal(source.acks.items.length, 0, "not before the confirm");
  target.published[1]!.resolve(); // out of order: the first still holds the second back
  await settled();
  timers.advance(10);
  assert.equal(source.acks.items.length, 0);
  target.published[0]!.resolve();
  await settled();
  timers.advance(10);
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 2, allUpTo: true, requeue: false }]);
});

Deno.test("StubSide stops consuming while the publishing connection is down, hands everything back, and resumes", async () => {
  const { source, target, stub } = setup();
  await stub.start();
  assert.equal(source.consuming, true);
  source.deliver("a");
  source.deliver("b");
  await target.calls.reach(2, "two publishes");
  target.goDown();
  await settled();
  assert.equal(source.consuming, false, "consumption pauses, as with a WebSocket that is down");
  assert.deepEqual(source.acks.items, [{ kind: "nack", tag: 2, allUpTo: true, requeue: true }]);
  target.goUp();
  await settled();
  assert.equal(source.consuming, true);
  source.deliver("c");
  await target.calls.reach(3, "a publish after the reconnect");
  await stub.close();
});
