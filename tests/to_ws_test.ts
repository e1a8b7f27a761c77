import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { delay } from "../lib/async.ts";
import { FromWsPublisher } from "../lib/from_ws.ts";
import { MetricsRegistry, TO_WS_REJECTED_TOTAL, TO_WS_REQUEUED_TOTAL, TO_WS_TOTAL } from "../lib/metrics.ts";
import { asFrame, ToWsPump } from "../lib/to_ws.ts";
import { createLogger, MemorySink } from "../handlers/logging.ts";
import { FakeConnection, FakeSource, FakeTarget } from "./_fakes.ts";

const ACK_DELAY_MS = 30;

function setup(options: { ackDelayMs?: number; maxBufferedBytes?: number } = {}) {
  const source = new FakeSource();
  const target = new FakeTarget();
  const metrics = new MetricsRegistry();
  const log = createLogger({ sink: new MemorySink(), info: true, debug: true });
  const publisher = new FromWsPublisher(target, {
    queue: "from_ws",
    ttlMs: 1000,
    limit: 100,
    window: 100,
    idPrefix: "t-",
  }, { log, metrics });
  const pump = new ToWsPump(source, publisher, {
    queue: "to_ws",
    consumerTag: "tag",
    ackDelayMs: options.ackDelayMs ?? ACK_DELAY_MS,
    maxBufferedBytes: options.maxBufferedBytes ?? 1000,
    maxMessageBytes: 10_000,
  }, { log, metrics });
  return { source, target, metrics, publisher, pump, conn: new FakeConnection() };
}

Deno.test("asFrame() sends valid UTF-8 as text and everything else, or declared binary, as bytes", () => {
  assert.equal(asFrame(Buffer.from("héllo"), "text/plain"), "héllo");
  assert.equal(asFrame(Buffer.from("\uFEFFbom kept"), undefined), "\uFEFFbom kept");
  assert.deepEqual(asFrame(Buffer.from([0xc3, 0x28]), "text/plain"), new Uint8Array([0xc3, 0x28]));
  assert.deepEqual(
    asFrame(Buffer.from("text"), "application/octet-stream"),
    new TextEncoder().encode("text"),
  );
});

Deno.test("ToWsPump acknowledges only after the frame has left the buffer and the connection stayed open", async () => {
  const { source, conn, pump, metrics } = setup();
  conn.bufferedAmount = 10_000_000; // nothing has left the socket yet (over the send limit too)
  pump.attach(conn);
  conn.bufferedAmount = 500;
  source.deliver("one");
  await conn.frames.reach(1, "the frame");
  await delay(ACK_DELAY_MS * 3); // stimulus: the frame stays unsent for a while
  assert.equal(source.acks.items.length, 0, "no ack while the frame is still buffered");
  const flushedAt = performance.now();
  conn.bufferedAmount = 0;
  await source.acks.reach(1, "the ack");
  assert.ok(
    performance.now() - flushedAt >= ACK_DELAY_MS,
    "acked no sooner than ws_ack_delay_ms after leaving",
  );
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 1, allUpTo: true, requeue: false }]);
  assert.equal(metrics.counter(TO_WS_TOTAL), 1);
  await pump.stop(0);
});

Deno.test("ToWsPump acknowledges a run of settled messages with one ack", async () => {
  const { source, conn, pump, metrics } = setup();
  pump.attach(conn);
  for (let i = 0; i < 10; i++) source.deliver(`m${i}`);
  await source.acks.reach(1, "the ack");
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 10, allUpTo: true, requeue: false }]);
  assert.equal(metrics.counter(TO_WS_TOTAL), 10);
  await pump.stop(0);
});

Deno.test("ToWsPump waits until what the WebSocket sent meanwhile is confirmed before acknowledging", async () => {
  const { source, conn, pump, publisher, target } = setup();
  pump.attach(conn);
  publisher.accept(Buffer.from("reply"), "text/plain"); // a reply not yet confirmed by the broker
  await target.calls.reach(1, "the reply's publish");
  source.deliver("request");
  await delay(ACK_DELAY_MS * 3); // stimulus: well past the ack delay
  assert.equal(source.acks.items.length, 0, "held back by the unconfirmed reply");
  target.published[0]!.resolve();
  await source.acks.reach(1, "the ack after the confirm");
  await pump.stop(0);
});

Deno.test("ToWsPump hands every unacknowledged message back in one nack when the connection closes", async () => {
  const { source, conn, pump, metrics } = setup({ ackDelayMs: 60_000 });
  pump.attach(conn);
  for (let i = 0; i < 5; i++) source.deliver(`m${i}`);
  await conn.frames.reach(5, "five frames");
  conn.isOpen = false;
  pump.detach(conn);
  assert.equal(source.consuming, false, "stops consuming while the WebSocket is down");
  assert.deepEqual(source.acks.items, [{ kind: "nack", tag: 5, allUpTo: true, requeue: true }]);
  assert.equal(metrics.counter(TO_WS_REQUEUED_TOTAL), 5);
  source.deliver("in flight during the cancel");
  assert.deepEqual(source.acks.items.at(-1), { kind: "nack", tag: 6, allUpTo: false, requeue: true });
  await pump.stop(0);
});

Deno.test("ToWsPump stops sending at ws_max_buffered_bytes and resumes as the buffer drains", async () => {
  const { source, conn, pump } = setup({ maxBufferedBytes: 100 });
  pump.attach(conn);
  conn.bufferedAmount = 150;
  for (let i = 0; i < 3; i++) source.deliver(`m${i}`);
  await delay(ACK_DELAY_MS); // stimulus: several ticks with a full buffer
  assert.equal(conn.frames.items.length, 0, "nothing sent while the buffer is over the limit");
  conn.bufferedAmount = 0;
  await conn.frames.reach(3, "the frames once the buffer drained");
  assert.deepEqual(conn.frames.items, ["m0", "m1", "m2"]);
  await source.acks.reach(1, "the ack");
  await pump.stop(0);
});

Deno.test("ToWsPump.stop() stops consuming, lets sent frames settle and acknowledges them", async () => {
  const { source, conn, pump } = setup();
  pump.attach(conn);
  source.deliver("last");
  await conn.frames.reach(1, "the frame");
  await pump.stop(5_000);
  assert.equal(source.consuming, false);
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 1, allUpTo: true, requeue: false }]);
});

Deno.test("ToWsPump.stop() hands back what has not settled when its time is up", async () => {
  const { source, conn, pump } = setup({ ackDelayMs: 60_000 });
  pump.attach(conn);
  source.deliver("a");
  source.deliver("b");
  await conn.frames.reach(2, "two frames");
  await pump.stop(20);
  assert.deepEqual(source.acks.items, [{ kind: "nack", tag: 2, allUpTo: true, requeue: true }]);
});

Deno.test("ToWsPump in stub mode acknowledges once the broker confirms the republished message", async () => {
  const { source, pump, target, publisher } = setup();
  pump.startStub();
  source.deliver("echo me");
  source.deliver(new Uint8Array([0xff]));
  await target.calls.reach(2, "two publishes");
  assert.deepEqual(target.published.map((p) => p.props.contentType), [
    "text/plain",
    "application/octet-stream",
  ]);
  target.published[0]!.resolve();
  target.published[1]!.reject(new Error("nacked by the broker"));
  await source.acks.reach(2, "an ack and a nack");
  assert.deepEqual(source.acks.items, [
    { kind: "ack", tag: 1, allUpTo: true, requeue: false },
    { kind: "nack", tag: 2, allUpTo: false, requeue: true },
  ]);
  await pump.stop(0);
  publisher.dispose();
});

Deno.test("ToWsPump rejects a message larger than ws_max_message_bytes without requeue, and says so", async () => {
  const { source, conn, pump, metrics } = setup();
  pump.attach(conn);
  source.deliver("x".repeat(10_001));
  source.deliver("fits");
  assert.deepEqual(source.acks.items[0], { kind: "nack", tag: 1, allUpTo: false, requeue: false });
  assert.deepEqual(conn.frames.items, ["fits"]);
  assert.equal(metrics.counter(TO_WS_REJECTED_TOTAL), 1);
  await source.acks.reach(2, "the ack of the message that fits");
  await pump.stop(0);
});
