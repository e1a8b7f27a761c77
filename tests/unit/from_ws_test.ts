import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FromWsPublisher } from "../../bridge/from_ws.ts";
import {
  FROM_WS_CONFIRM_SECONDS,
  FROM_WS_DROPPED_TOTAL,
  FROM_WS_PUBLISH_FAILURES_TOTAL,
  FROM_WS_TOTAL,
  MetricsRegistry,
  WS_READ_PAUSES_TOTAL,
} from "../../lib/metrics.ts";
import { MqReturnedError, MqUnavailableError } from "../../handlers/mq/session.ts";
import { createLogger, MemorySink } from "../../lib/log.ts";
import { FakeTarget, FakeTimers } from "../_fakes.ts";

function setup(options: { limit?: number; limitBytes?: number; window?: number } = {}) {
  const target = new FakeTarget();
  const sink = new MemorySink();
  const metrics = new MetricsRegistry();
  const timers = new FakeTimers();
  const publisher = new FromWsPublisher(target, {
    queue: "from_ws",
    ttlMs: 5000,
    limit: options.limit ?? 100,
    limitBytes: options.limitBytes ?? 1_000_000,
    window: options.window ?? 100,
    idPrefix: "p-",
  }, { log: createLogger({ sink, info: true, debug: false }), metrics, clock: timers, summarySecs: 10 });
  const pressure: boolean[] = [];
  publisher.onPressure((paused) => pressure.push(paused));
  return { target, sink, metrics, publisher, timers, pressure };
}

const accept = (p: FromWsPublisher, text: string) => p.accept(Buffer.from(text), "text/plain");
/** One turn of the event loop: every promise callback already queued has run. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("FromWsPublisher publishes in arrival order with message ids, TTL and content type", async () => {
  const { target, publisher, metrics } = setup();
  accept(publisher, "a");
  publisher.accept(Buffer.from([1, 2]), "application/octet-stream");
  await target.calls.reach(2, "two publishes");
  assert.deepEqual(target.published.map((p) => [p.queue, Buffer.from(p.body).toString("hex"), p.props]), [
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

Deno.test("FromWsPublisher times each confirmed publish on the injected clock, from its latest publish", async () => {
  const { target, publisher, metrics, timers } = setup();
  const histogram = () => metrics.snapshot().histograms[FROM_WS_CONFIRM_SECONDS]!;
  accept(publisher, "a"); // published at 0 ms
  timers.advance(3);
  accept(publisher, "b"); // at 3 ms
  await target.calls.reach(2, "two publishes");
  timers.advance(4);
  target.published[1]!.resolve(); // b: 4 ms
  await settled(); // the confirm arrives
  timers.advance(293);
  target.published[0]!.resolve(); // a: 300 ms
  await settled();
  assert.equal(histogram().count, 2);
  accept(publisher, "c"); // at 300 ms
  await target.calls.reach(3, "a third publish");
  timers.advance(50);
  target.published[2]!.reject(new MqUnavailableError("channel closed"));
  await settled();
  assert.equal(histogram().count, 2, "a failed publish is not timed");
  timers.advance(1_000); // the retry pause: c is published again at 1350 ms
  await target.calls.reach(4, "the retry");
  timers.advance(20);
  target.published[3]!.resolve(); // c: 20 ms, from its second publish
  await publisher.drained();
  const { buckets, counts, sum, count } = histogram();
  assert.equal(count, 3);
  assert.ok(Math.abs(sum - 0.324) < 1e-9, `sum ${sum}`);
  const at = (le: number) => counts[buckets.indexOf(le)];
  assert.deepEqual([at(0.0025), at(0.005), at(0.01), at(0.025), at(0.25), at(0.5), at(10)], [
    0,
    1,
    1,
    2,
    2,
    3,
    3,
  ]);
  publisher.dispose();
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

Deno.test("FromWsPublisher asks to pause reading at mq_buffer_limit and to resume at half, dropping nothing", async () => {
  const { target, publisher, metrics, pressure } = setup({ limit: 4 });
  target.up = false; // the broker is away: everything waits
  const kept = ["a", "b", "c", "d", "e", "f"].map((text) => accept(publisher, text));
  assert.deepEqual(kept, [true, true, true, true, true, true], "what arrives after the pause is kept too");
  assert.deepEqual(pressure, [true], "one pause at the 4th message");
  assert.equal(metrics.counter(FROM_WS_DROPPED_TOTAL), 0);
  assert.equal(metrics.counter(WS_READ_PAUSES_TOTAL), 1);
  target.up = true;
  publisher.onMqUp();
  await target.calls.reach(6, "six publishes");
  for (const call of target.published.slice(0, 3)) call.resolve();
  await settled();
  assert.deepEqual(pressure, [true], "3 held of 4: still paused");
  target.published[3]!.resolve();
  await settled();
  assert.deepEqual(pressure, [true, false], "2 held (half of 4): resumed");
});

Deno.test("FromWsPublisher asks to pause reading at mq_buffer_bytes", () => {
  const { target, publisher, pressure } = setup({ limitBytes: 10_000 });
  target.up = false;
  publisher.accept(Buffer.alloc(6_000), "application/octet-stream");
  assert.deepEqual(pressure, []);
  publisher.accept(Buffer.alloc(4_000), "application/octet-stream");
  assert.deepEqual(pressure, [true]);
  assert.equal(publisher.bufferedBytes, 10_000);
});

Deno.test("FromWsPublisher rejects only a single message larger than mq_buffer_bytes, logged as a summary", () => {
  const { publisher, metrics, sink, timers } = setup({ limitBytes: 1024 });
  const big = () => publisher.accept(Buffer.alloc(1025), "application/octet-stream");
  assert.equal(big(), false);
  assert.equal(accept(publisher, "small"), true);
  for (let i = 0; i < 99; i++) big();
  assert.equal(metrics.counter(FROM_WS_DROPPED_TOTAL), 100);
  const errors = () => sink.records.filter((r) => r.level === "error");
  assert.equal(errors().length, 1, "the first at once, the rest held for the summary");
  timers.advance(10_000);
  assert.equal(errors().length, 2);
  assert.match(
    sink.lines.at(-1)!,
    /Rejected WebSocket messages larger than mq_buffer_bytes .*count=99 in_last_secs=10/,
  );
  assert.match(sink.lines.at(-1)!, /dropped_total=100/);
  timers.advance(60_000);
  assert.equal(errors().length, 2, "no line for a quiet interval");
});

Deno.test("FromWsPublisher logs refused publishes as one summary line per interval, and retries them all", async () => {
  const { target, publisher, metrics, sink, timers } = setup();
  for (let i = 0; i < 50; i++) accept(publisher, `m${i}`);
  await target.calls.reach(50, "fifty publishes");
  for (const call of target.published) {
    call.reject(new MqUnavailableError("The broker did not confirm the message"));
  }
  await settled();
  assert.equal(metrics.counter(FROM_WS_PUBLISH_FAILURES_TOTAL), 50);
  assert.equal(
    sink.records.filter((r) => r.level === "warn").length,
    1,
    "one line at once, the rest summed up later",
  );
  timers.advance(1_000); // the retry pause
  await target.calls.reach(100, "fifty retries");
  for (const call of target.published.slice(50)) call.reject(new MqUnavailableError("still refused"));
  await settled();
  timers.advance(10_000);
  const warns = sink.lines.filter((line) => / WARN /.test(line));
  assert.equal(warns.length, 2);
  assert.match(warns[1]!, /count=99 in_last_secs=10 error="still refused"/);
  timers.advance(1_000);
  await target.calls.reach(150, "retried again");
  for (const call of target.published.slice(100)) call.resolve();
  await publisher.drained();
  assert.equal(publisher.confirmed, 50);
  publisher.dispose();
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
  const { target, publisher, timers } = setup();
  accept(publisher, "a");
  await target.calls.reach(1, "a publish");
  target.published[0]!.reject(new MqReturnedError("no route"));
  await settled();
  timers.advance(1_000); // the retry pause
  await target.calls.reach(2, "a retry");
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
