import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FromWsPublisher } from "../lib/from_ws.ts";
import { FROM_WS_DROPPED_TOTAL, FROM_WS_TOTAL, MetricsRegistry } from "../lib/metrics.ts";
import { MqReturnedError, MqUnavailableError } from "../handlers/mq.ts";
import { createLogger, MemorySink } from "../handlers/logging.ts";
import { FakeTarget } from "./_fakes.ts";

function setup(options: { limit?: number; window?: number } = {}) {
  const target = new FakeTarget();
  const sink = new MemorySink();
  const metrics = new MetricsRegistry();
  const publisher = new FromWsPublisher(target, {
    queue: "from_ws",
    ttlMs: 5000,
    limit: options.limit ?? 100,
    window: options.window ?? 100,
    idPrefix: "p-",
  }, { log: createLogger({ sink, info: true, debug: false }), metrics });
  return { target, sink, metrics, publisher };
}

const accept = (p: FromWsPublisher, text: string) => p.accept(Buffer.from(text), "text/plain");
/** One turn of the event loop: every promise callback already queued has run. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("FromWsPublisher publishes in arrival order with message ids, TTL and content type", async () => {
  const { target, publisher, metrics } = setup();
  accept(publisher, "a");
  publisher.accept(Buffer.from([1, 2]), "application/octet-stream");
  await target.calls.reach(2, "two publishes");
  assert.deepEqual(target.published.map((p) => [p.queue, p.body.toString("hex"), p.props]), [
    ["from_ws", Buffer.from("a").toString("hex"), {
      contentType: "text/plain",
      expirationMs: 5000,
      messageId: "p-1",
    }],
    ["from_ws", "0102", { contentType: "application/octet-stream", expirationMs: 5000, messageId: "p-2" }],
  ]);
  assert.equal(publisher.buffered, 2);
  target.published[1]!.resolve(); // confirms may come out of order
  await settled();
  assert.equal(publisher.confirmed, 0, "the watermark waits for message 1");
  target.published[0]!.resolve();
  await publisher.drained();
  assert.equal(publisher.confirmed, 2);
  assert.equal(metrics.counter(FROM_WS_TOTAL), 2);
});

Deno.test("FromWsPublisher keeps at most `window` messages unconfirmed", async () => {
  const { target, publisher } = setup({ window: 2 });
  for (const text of ["a", "b", "c", "d"]) accept(publisher, text);
  await target.calls.reach(2, "two publishes");
  assert.equal(target.published.length, 2);
  target.published[0]!.resolve();
  await target.calls.reach(3, "a third publish after a confirm");
  assert.equal(target.published[2]!.props.messageId, "p-3");
});

Deno.test("FromWsPublisher publishes unconfirmed messages again, in order and with the same ids, after a reconnect", async () => {
  const { target, publisher } = setup();
  for (const text of ["a", "b", "c"]) accept(publisher, text);
  await target.calls.reach(3, "three publishes");
  target.published[0]!.resolve();
  target.up = false;
  publisher.onMqDown();
  target.published[1]!.reject(new MqUnavailableError("channel closed")); // late failure from the old connection
  accept(publisher, "d"); // arrives while the broker is away: held
  await settled();
  assert.equal(target.published.length, 3);
  target.up = true;
  target.generation = 2;
  publisher.onMqUp();
  await target.calls.reach(6, "three publishes after the reconnect");
  assert.deepEqual(target.published.slice(3).map((p) => p.props.messageId), ["p-2", "p-3", "p-4"]);
  for (const call of target.published.slice(3)) call.resolve();
  await publisher.drained();
  assert.equal(publisher.confirmed, 4);
});

Deno.test("FromWsPublisher drops what exceeds the buffer while the broker is away, counting and logging it", () => {
  const { target, publisher, metrics, sink } = setup({ limit: 3 });
  target.up = false;
  const kept = ["a", "b", "c", "d", "e"].map((text) => accept(publisher, text));
  assert.deepEqual(kept, [true, true, true, false, false]);
  assert.equal(metrics.counter(FROM_WS_DROPPED_TOTAL), 2);
  assert.equal(
    sink.records.filter((r) => r.level === "error").length,
    1,
    "one line per episode, not per message",
  );
  assert.match(sink.text, /Dropped WebSocket messages: 3 already wait for the broker \(mq_buffer_limit\)/);
});

Deno.test("FromWsPublisher waits for the socket to drain before publishing more", async () => {
  const { target, publisher } = setup();
  target.writable = false;
  accept(publisher, "a");
  await settled();
  assert.equal(target.published.length, 0);
  target.drain();
  await target.calls.reach(1, "a publish after the drain");
});

Deno.test("FromWsPublisher retries a message the broker routed nowhere, after declaring the queues again", async () => {
  const { target, publisher } = setup();
  accept(publisher, "a");
  await target.calls.reach(1, "a publish");
  target.published[0]!.reject(new MqReturnedError("no route"));
  await target.calls.reach(2, "a retry", 3_000);
  assert.equal(target.redeclared, 1);
  assert.equal(target.published[1]!.props.messageId, "p-1");
  target.published[1]!.resolve();
  await publisher.drained();
  publisher.dispose();
});

Deno.test("FromWsPublisher.forward() reports the confirm, and hands the message back when the connection drops", async () => {
  const { target, publisher } = setup();
  const outcomes: boolean[] = [];
  publisher.forward(Buffer.from("x"), "text/plain", (ok) => outcomes.push(ok));
  publisher.forward(Buffer.from("y"), "text/plain", (ok) => outcomes.push(ok));
  await target.calls.reach(2, "two publishes");
  target.published[0]!.resolve();
  await settled();
  publisher.onMqDown();
  assert.deepEqual(outcomes, [true, false]);
  publisher.onMqUp();
  await settled();
  assert.equal(
    target.published.length,
    2,
    "a forward is never republished: the broker redelivers its source",
  );
  assert.equal(publisher.buffered, 0);
});
