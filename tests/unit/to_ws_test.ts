/**
 * The to_ws acknowledgement rule (bridge/to_ws.ts), alone: fake broker, fake
 * connection, fake timers. Time moves only when a test advances it, so the
 * hold (ws_ack_delay_ms) is checked to the millisecond and without sleeping.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FromWsPublisher } from "../../bridge/from_ws.ts";
import {
  MetricsRegistry,
  TO_WS_REJECTED_TOTAL,
  TO_WS_REQUEUED_TOTAL,
  TO_WS_TOTAL,
} from "../../lib/metrics.ts";
import { ToWsPump } from "../../bridge/to_ws.ts";
import { isText } from "../../bridge/frames.ts";
import { createLogger, MemorySink } from "../../lib/log.ts";
import { FakeConnection, FakeSource, FakeTarget, FakeTimers } from "../_fakes.ts";

const ACK_DELAY_MS = 30;
/** Acknowledgements due within this of each other are batched (bridge/to_ws.ts ACK_BATCH_MS). */
const BATCH_MS = 5;

function setup(options: { ackDelayMs?: number; maxBufferedBytes?: number } = {}) {
  const source = new FakeSource();
  const target = new FakeTarget();
  const metrics = new MetricsRegistry();
  const timers = new FakeTimers();
  const log = createLogger({ sink: new MemorySink(), info: true, debug: true });
  const publisher = new FromWsPublisher(target, {
    queue: "from_ws",
    ttlMs: 1000,
    limit: 100,
    limitBytes: 1_000_000,
    window: 100,
    idPrefix: "t-",
  }, { log, metrics, clock: timers });
  const pump = new ToWsPump(source, {
    queue: "to_ws",
    consumerTag: "tag",
    ackDelayMs: options.ackDelayMs ?? ACK_DELAY_MS,
    maxBufferedBytes: options.maxBufferedBytes ?? 1000,
    maxMessageBytes: 10_000,
  }, { log, metrics, replies: publisher, clock: timers });
  const conn = new FakeConnection();
  /** The relay wrote `bytes` more (default: all) to the socket. */
  const written = (bytes?: number) => {
    conn.writeOut(bytes);
    pump.onWritten(conn);
  };
  return { source, target, metrics, publisher, pump, conn, timers, written };
}

/** Every promise callback already queued has run (the fakes settle through promises). */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("isText() sends valid UTF-8 as text and everything else, or declared binary, as bytes", () => {
  assert.equal(isText(Buffer.from("héllo"), "text/plain"), true);
  assert.equal(isText(Buffer.from("\uFEFFbom kept"), undefined), true);
  assert.equal(isText(Buffer.from([0xc3, 0x28]), "text/plain"), false);
  assert.equal(isText(Buffer.from("text"), "application/octet-stream"), false);
  assert.equal(isText(Buffer.alloc(0), undefined), true, "an empty body is an empty text frame");
});

Deno.test("ToWsPump acknowledges only once the frame is written out and ws_ack_delay_ms has passed", () => {
  const { source, conn, pump, metrics, timers, written } = setup();
  pump.attach(conn);
  source.deliver("one");
  assert.deepEqual(conn.frames.items, ["one"]);
  timers.advance(10 * ACK_DELAY_MS);
  assert.equal(source.acks.items.length, 0, "no ack while the frame is not written out, however long");
  written();
  timers.advance(ACK_DELAY_MS - 1);
  assert.equal(source.acks.items.length, 0, "no ack within the hold");
  timers.advance(1);
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 1, allUpTo: true, requeue: false }]);
  assert.equal(metrics.counter(TO_WS_TOTAL), 1);
  assert.equal(timers.pending, 0, "nothing left ticking once everything is acknowledged");
});

Deno.test("ToWsPump acknowledges only what is written: a partly written run is acked up to its end", () => {
  const { source, conn, pump, timers, written } = setup();
  pump.attach(conn);
  for (const text of ["aa", "bb", "cc"]) source.deliver(text);
  written(3); // "aa" and half of "bb"
  timers.advance(ACK_DELAY_MS);
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 1, allUpTo: true, requeue: false }]);
  written();
  timers.advance(ACK_DELAY_MS);
  assert.deepEqual(source.acks.items.at(-1), { kind: "ack", tag: 3, allUpTo: true, requeue: false });
});

Deno.test("ToWsPump acknowledges a run of settled messages with one ack, batching what falls due together", () => {
  const { source, conn, pump, metrics, timers, written } = setup();
  pump.attach(conn);
  for (let i = 0; i < 10; i++) {
    source.deliver(`m${i}`);
    written();
    timers.advance(1); // one a millisecond: all fall due within one batch
  }
  timers.advance(ACK_DELAY_MS + BATCH_MS);
  assert.equal(metrics.counter(TO_WS_TOTAL), 10);
  assert.ok(source.acks.items.length <= 3, `${source.acks.items.length} acks for 10 messages`);
  assert.deepEqual(source.acks.items.at(-1), { kind: "ack", tag: 10, allUpTo: true, requeue: false });
});

Deno.test("ToWsPump waits until what the WebSocket sent meanwhile is confirmed before acknowledging", async () => {
  const { source, conn, pump, publisher, target, timers, written } = setup();
  pump.attach(conn);
  publisher.accept(Buffer.from("reply"), "text/plain"); // a reply not yet confirmed by the broker
  await target.calls.reach(1, "the reply's publish");
  source.deliver("request");
  written();
  timers.advance(10 * ACK_DELAY_MS);
  assert.equal(source.acks.items.length, 0, "held back by the unconfirmed reply");
  target.published[0]!.resolve();
  await settled();
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 1, allUpTo: true, requeue: false }]);
});

Deno.test("ToWsPump does not wait for unconfirmed replies while the broker blocks publishing (an alarm)", async () => {
  const { source, conn, pump, publisher, target, timers, written } = setup();
  pump.attach(conn);
  publisher.accept(Buffer.from("reply"), "text/plain");
  await target.calls.reach(1, "the reply's publish");
  source.deliver("request");
  written();
  timers.advance(ACK_DELAY_MS);
  assert.equal(source.acks.items.length, 0, "held back by the unconfirmed reply");
  target.blocked = true;
  publisher.onMqBlocked();
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 1, allUpTo: true, requeue: false }]);
  source.deliver("another");
  written();
  timers.advance(ACK_DELAY_MS);
  assert.equal(source.acks.items.length, 2, "to_ws keeps moving during the alarm");
});

Deno.test("ToWsPump hands every unacknowledged message back in one nack when the connection closes", () => {
  const { source, conn, pump, metrics, timers, written } = setup();
  pump.attach(conn);
  for (let i = 0; i < 5; i++) source.deliver(`m${i}`);
  written(); // written, but still within the hold: the peer may not have read them
  timers.advance(ACK_DELAY_MS - 1);
  conn.isOpen = false;
  pump.detach(conn);
  assert.equal(source.consuming, false, "stops consuming while the WebSocket is down");
  assert.deepEqual(source.acks.items, [{ kind: "nack", tag: 5, allUpTo: true, requeue: true }]);
  assert.equal(metrics.counter(TO_WS_REQUEUED_TOTAL), 5);
  source.deliver("in flight during the cancel");
  assert.deepEqual(source.acks.items.at(-1), { kind: "nack", tag: 6, allUpTo: false, requeue: true });
  timers.advance(ACK_DELAY_MS);
  assert.equal(source.acks.items.length, 2, "nothing acknowledged after the hand-back");
});

Deno.test("ToWsPump ignores what an earlier connection writes after its messages were handed back", () => {
  const { source, conn, pump, timers } = setup();
  pump.attach(conn);
  source.deliver("old");
  pump.detach(conn);
  const next = new FakeConnection();
  pump.attach(next);
  source.deliver("new");
  conn.writeOut();
  pump.onWritten(conn); // the old link drains late
  timers.advance(ACK_DELAY_MS);
  assert.deepEqual(source.acks.items, [{ kind: "nack", tag: 1, allUpTo: true, requeue: true }]);
});

Deno.test("ToWsPump stops sending at ws_max_buffered_bytes not yet written and resumes as they are", () => {
  const { source, conn, pump, written } = setup({ maxBufferedBytes: 4 });
  pump.attach(conn);
  for (const text of ["m0", "m1", "m2", "m3"]) source.deliver(text);
  assert.deepEqual(conn.frames.items, ["m0", "m1"], "4 bytes sent and not written: the rest waits");
  written(2);
  assert.deepEqual(conn.frames.items, ["m0", "m1", "m2"]);
  written();
  assert.deepEqual(conn.frames.items, ["m0", "m1", "m2", "m3"]);
});

Deno.test("ToWsPump.stop() stops consuming, lets sent frames settle and acknowledges them", async () => {
  const { source, conn, pump, timers, written } = setup();
  pump.attach(conn);
  source.deliver("last");
  const stopping = pump.stop(5_000);
  await settled();
  written();
  timers.advance(ACK_DELAY_MS);
  await stopping;
  assert.equal(source.consuming, false);
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 1, allUpTo: true, requeue: false }]);
});

Deno.test("ToWsPump.stop() hands back what has not settled when its time is up", async () => {
  const { source, conn, pump } = setup();
  pump.attach(conn);
  source.deliver("a");
  source.deliver("b");
  await pump.stop(20); // never written out: the deadline (real time) ends the wait
  assert.deepEqual(source.acks.items, [{ kind: "nack", tag: 2, allUpTo: true, requeue: true }]);
});

Deno.test("ToWsPump rejects a message larger than ws_max_message_bytes without requeue, and says so", () => {
  const { source, conn, pump, metrics, timers, written } = setup();
  pump.attach(conn);
  source.deliver("x".repeat(10_001));
  source.deliver("fits");
  assert.deepEqual(source.acks.items[0], { kind: "nack", tag: 1, allUpTo: false, requeue: false });
  assert.deepEqual(conn.frames.items, ["fits"]);
  assert.equal(metrics.counter(TO_WS_REJECTED_TOTAL), 1);
  written();
  timers.advance(ACK_DELAY_MS);
  assert.deepEqual(source.acks.items[1], { kind: "ack", tag: 2, allUpTo: true, requeue: false });
});

Deno.test("ToWsPump rejects a message over the connection's own limit (stub mode: the broker's max_message_size)", () => {
  const { source, conn, pump, metrics } = setup();
  pump.attach(conn);
  source.deliver("x".repeat(200));
  assert.deepEqual(conn.frames.items, ["x".repeat(200)], "no limit known yet");
  conn.maxMessageBytes = 100;
  source.deliver("y".repeat(101));
  source.deliver("y".repeat(100));
  assert.deepEqual(source.acks.items, [{ kind: "nack", tag: 2, allUpTo: false, requeue: false }]);
  assert.deepEqual(conn.frames.items, ["x".repeat(200), "y".repeat(100)]);
  assert.equal(metrics.counter(TO_WS_REJECTED_TOTAL), 1);
});

Deno.test("ToWsPump keeps a delivery whose send was refused, and sends and acknowledges it in order later", () => {
  const { source, conn, pump, metrics, timers, written } = setup();
  pump.attach(conn);
  conn.refusing = true;
  source.deliver("one");
  assert.deepEqual(conn.frames.items, [], "refused");
  conn.refusing = false;
  source.deliver("two");
  assert.deepEqual(conn.frames.items, [], "waits behind the refused one, in order");
  written(0); // a write event: what waits is sent
  assert.deepEqual(conn.frames.items, ["one", "two"]);
  written();
  timers.advance(ACK_DELAY_MS);
  assert.deepEqual(source.acks.items, [{ kind: "ack", tag: 2, allUpTo: true, requeue: false }]);
  assert.equal(metrics.counter(TO_WS_TOTAL), 2);
});
