/**
 * The AMQP handler against the real RabbitMQ: publishing with confirms,
 * queue declaration, the consumer across reconnects, the connect policy,
 * close(), and TLS with a custom CA through a TLS-terminating forwarder.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  MetricsRegistry,
  MQ_CONNECTION_ATTEMPTS_TOTAL,
  MQ_CONNECTIONS_LOST_TOTAL,
} from "../../lib/metrics.ts";
import { Redactor, redactUrl, Secret } from "../../lib/secret.ts";
import { createLogger } from "../../lib/log.ts";
import {
  MqAccessError,
  type MqDelivery,
  MqGaveUpError,
  MqReturnedError,
  MqSession,
  type MqSessionOptions,
  MqSetupError,
  MqUnavailableError,
  withHeartbeat,
} from "../../handlers/mq/session.ts";
import { WatchedSink } from "../_bridge.ts";
import { AMQP_URL, brokerUser, closeConnectionsNamed, consumersOf, openBroker } from "../_broker.ts";
import { startProxy, type TcpProxy } from "../_proxy.ts";
import { makeTestPki, startTlsForwarder } from "../_tls.ts";
import { withDeadline } from "../_ws_server.ts";
import { rabbitmqctl } from "../../tools/rabbitmqctl.ts";

/** A session with its log lines, metrics and a unique connection name. */
function session(overrides: Partial<Omit<MqSessionOptions, "url">> & { url?: string } = {}) {
  const { url = AMQP_URL, ...rest } = overrides;
  const sink = new WatchedSink();
  const metrics = new MetricsRegistry();
  const log = createLogger({ sink, info: true, debug: true, redactor: new Redactor() }).child("mq");
  const name = `test-mq-${crypto.randomUUID()}`;
  const mq = new MqSession({
    url: new Secret(url),
    displayUrl: redactUrl(url),
    queues: [],
    prefetch: 10,
    heartbeatSecs: 30,
    maxConnectAttempts: 3,
    reconnectDelaySecs: 0.1,
    connectionName: name,
    ...rest,
  }, { log, metrics });
  return Object.assign(mq, { sink, metrics, name });
}

/** Deliveries received by a consumer, awaitable by count. */
class Deliveries {
  readonly all: MqDelivery[] = [];
  #waiters: { n: number; resolve: () => void }[] = [];

  readonly push = (delivery: MqDelivery): void => {
    this.all.push(delivery);
    this.#waiters = this.#waiters.filter((w) => !(this.all.length >= w.n && (w.resolve(), true)));
  };

  /** Resolves with the `n`-th delivery (1-based), past or future. */
  async nth(n: number, ms = 5_000): Promise<MqDelivery> {
    if (this.all.length < n) {
      await withDeadline(
        new Promise<void>((resolve) => this.#waiters.push({ n, resolve })),
        ms,
        `delivery #${n}`,
      );
    }
    return this.all[n - 1]!;
  }

  get texts(): string[] {
    return this.all.map((d) => d.body.toString("utf8"));
  }
}

/** Resolves on the next call of a session's `onUp` / `onDown`. */
function nextEvent(register: (fn: (cause?: unknown) => void) => void, what: string, ms = 5_000) {
  const { promise, resolve } = Promise.withResolvers<unknown>();
  let fired = false;
  register((cause) => {
    if (!fired) resolve(cause);
    fired = true;
  });
  return withDeadline(promise, ms, what);
}

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

async function settledError(promise: Promise<unknown>, ms = 10_000): Promise<unknown> {
  return await withDeadline(promise.then(() => null, (err: unknown) => err), ms, "the promise to settle");
}

const TEXT = { contentType: "text/plain" } as const;

Deno.test("MqSession.publish() sets expiration, persistence, content type and message id [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("publish");
  await using mq = session({ queues: [queue] });
  await mq.start();
  await mq.publish(queue, Buffer.from("hello"), {
    contentType: "text/plain",
    expirationMs: 60_000,
    messageId: "m-1",
  });
  await mq.publish(queue, Buffer.from([0xff, 0]), {
    contentType: "application/octet-stream",
    messageId: "m-2",
  });
  const [text, binary] = await broker.collect(queue, 2);
  assert.equal(text!.text, "hello");
  assert.equal(text!.properties.expiration, "60000");
  assert.equal(text!.properties.deliveryMode, 2, "persistent");
  assert.equal(text!.properties.contentType, "text/plain");
  assert.equal(text!.properties.messageId, "m-1");
  assert.deepEqual([...binary!.body], [0xff, 0]);
  assert.equal(binary!.properties.contentType, "application/octet-stream");
  assert.equal(binary!.properties.expiration, undefined, "no expiration unless asked");
  assert.equal(binary!.properties.deliveryMode, 2);
});

/**
 * Pauses the forwarder for good. It stops reading only after the read it has already
 * started, so one publish is sent to take that read (its confirm proves it went through);
 * everything written after it stays in the forwarder. Heartbeats must be off (one could
 * take that read instead).
 */
async function holdEverythingAfterThis(proxy: TcpProxy, mq: MqSession, queue: string): Promise<void> {
  proxy.pause();
  await withDeadline(mq.publish(queue, Buffer.from("last through"), TEXT), 5_000, "the last publish through");
}

Deno.test("MqSession.publish() resolves only once the broker has confirmed [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("confirm");
  await using proxy = startProxy(5672);
  const url = `amqp://guest:guest@127.0.0.1:${proxy.port}`;
  await using mq = session({ queues: [queue], url, heartbeatSecs: 0 });
  await mq.start();
  await holdEverythingAfterThis(proxy, mq, queue);
  let settled = false;
  const published = mq.publish(queue, Buffer.from("held"), { ...TEXT, messageId: "held-1" });
  published.finally(() => settled = true).catch(() => {});
  assert.equal(await broker.ready(queue), 1, "the broker has only the message before it");
  assert.equal(settled, false, "not resolved before the broker confirmed");
  proxy.resume();
  await withDeadline(published, 5_000, "the confirm");
  assert.equal(await broker.ready(queue), 2, "confirmed means enqueued");
});

Deno.test("MqSession.publish() rejects with MqUnavailableError when the connection drops before the confirm [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("unconfirmed");
  await using proxy = startProxy(5672);
  await using mq = session({ queues: [queue], url: `amqp://guest:guest@127.0.0.1:${proxy.port}` });
  await mq.start();
  const up = nextEvent((fn) => mq.onUp(fn), "onUp after the cut");
  proxy.pause();
  const published = mq.publish(queue, Buffer.from("in doubt"), { ...TEXT, messageId: "doubt-1" });
  proxy.cutAll();
  const error = await settledError(published, 5_000);
  assert.ok(error instanceof MqUnavailableError, `got ${error}`);
  proxy.resume();
  await up;
  await mq.publish(queue, Buffer.from("retried"), { ...TEXT, messageId: "doubt-1" });
  assert.deepEqual((await broker.drain(queue)).map((m) => m.text), ["retried"]);
});

Deno.test("MqSession.writable turns false when the channel backs up and waitWritable() resolves once it drains [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("backpressure");
  await using mq = session({ queues: [queue] });
  await mq.start();
  assert.equal(mq.writable, true);
  await mq.waitWritable(); // resolves at once while writable
  // Publishing in one synchronous run gives amqplib no turn to write anything out:
  // the channel's buffer fills and publish() reports it.
  const body = Buffer.alloc(1024, 1);
  const confirms: Promise<void>[] = [];
  for (let i = 0; mq.writable && i < 20_000; i++) {
    confirms.push(mq.publish(queue, body, { contentType: "application/octet-stream" }));
  }
  assert.equal(mq.writable, false, `still writable after ${confirms.length} messages`);
  await withDeadline(mq.waitWritable(), 5_000, "waitWritable() to resolve");
  assert.equal(mq.writable, true);
  await withDeadline(Promise.all(confirms), 10_000, "every confirm");
  assert.equal(await broker.ready(queue), confirms.length);
});

Deno.test("MqSession.publish() rejects with MqReturnedError when the queue does not exist [integration]", async () => {
  await using mq = session();
  await mq.start();
  const missing = `test.missing.${crypto.randomUUID()}`;
  const error = await settledError(mq.publish(missing, Buffer.from("x"), { ...TEXT, messageId: "lost-1" }));
  assert.ok(error instanceof MqReturnedError, `got ${error}`);
  assert.match(error.message, new RegExp(`"${missing.replaceAll(".", "\\.")}"`));
  // The session is still usable, and the same id is not reported returned twice.
  await using broker = await openBroker();
  const queue = await broker.queue("after-return");
  await mq.publish(queue, Buffer.from("y"), { ...TEXT, messageId: "lost-1" });
  assert.equal(await broker.ready(queue), 1);
});

Deno.test("MqSession.redeclare() brings back a queue deleted while publishing [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("redeclare");
  await using mq = session({ queues: [queue] });
  await mq.start();
  await rabbitmqctl(["delete_queue", queue]);
  const error = await settledError(mq.publish(queue, Buffer.from("x"), { ...TEXT, messageId: "r-1" }));
  assert.ok(error instanceof MqReturnedError, `got ${error}`);
  await mq.redeclare();
  await mq.publish(queue, Buffer.from("y"), { ...TEXT, messageId: "r-1" });
  assert.deepEqual((await broker.drain(queue)).map((m) => m.text), ["y"]);
  assert.equal(mq.generation, 1, "on the same connection");
});

Deno.test("MqSession.publish() rejects with MqUnavailableError before start()", async () => {
  await using mq = session();
  await assert.rejects(mq.publish("q", Buffer.from("x"), TEXT), MqUnavailableError);
});

Deno.test("MqSession.start() uses existing queues as the operator made them: non-durable, TTL, max-length, quorum [integration]", async () => {
  await using broker = await openBroker();
  const queues = [
    await broker.queue("nondurable", { durable: false }),
    await broker.queue("ttl", { durable: true, arguments: { "x-message-ttl": 60_000 } }),
    await broker.queue("bounded", {
      durable: true,
      arguments: { "x-max-length": 100, "x-dead-letter-exchange": "" },
    }),
    await broker.queue("quorum", { durable: true, arguments: { "x-queue-type": "quorum" } }),
  ];
  await using mq = session({ queues });
  await mq.start();
  for (const queue of queues) await mq.publish(queue, Buffer.from(`to ${queue}`), TEXT);
  for (const queue of queues) assert.equal(await broker.ready(queue), 1, `published to ${queue}`);
  assert.equal(mq.metrics.counter(MQ_CONNECTION_ATTEMPTS_TOTAL), 1);
  assert.ok(!/WARN|ERROR/.test(mq.sink.text), `no warning on the way:\n${mq.sink.text}`);
});

Deno.test("MqSession.start() creates a missing queue of queueType quorum, durable [integration]", async () => {
  const fresh = `test.fresh-quorum.${crypto.randomUUID()}`;
  try {
    await using mq = session({ queues: [fresh], queueType: "quorum" });
    await mq.start();
    const rows = (await rabbitmqctl(["list_queues", "name", "type", "durable"]))
      .split("\n").filter((line) => line.startsWith(`${fresh}\t`));
    assert.deepEqual(rows, [`${fresh}\tquorum\ttrue`]);
  } finally {
    await rabbitmqctl(["delete_queue", fresh]);
  }
});

Deno.test("MqSession.start() rejects once with MqSetupError naming every queue it may not create [integration]", async () => {
  await using user = await brokerUser({ configure: "^$" }); // may use queues, may create none
  const missing = [`test.missing-a.${crypto.randomUUID()}`, `test.missing-b.${crypto.randomUUID()}`];
  await using mq = session({ url: user.url, queues: missing, maxConnectAttempts: 5 });
  const error = await settledError(mq.start());
  assert.ok(error instanceof MqSetupError, `got ${error}`);
  for (const queue of missing) {
    assert.ok(error.message.includes(`Cannot create queue "${queue}": access refused`));
  }
  assert.match(error.message, /create it beforehand or grant the user "configure" permission/);
  assert.equal(mq.metrics.counter(MQ_CONNECTION_ATTEMPTS_TOTAL), 1, "no retry");
  assert.deepEqual(
    mq.sink.lines.filter((line) => / (WARN|ERROR) /.test(line)).length,
    1,
    `one line, no warning before it:\n${mq.sink.text}`,
  );
});

Deno.test("MqSession.start() declares missing queues durable, without arguments [integration]", async () => {
  const fresh = `test.fresh.${crypto.randomUUID()}`;
  try {
    await using mq = session({ queues: [fresh] });
    await mq.start();
    const rows = (await rabbitmqctl(["list_queues", "name", "durable", "auto_delete", "arguments"]))
      .split("\n").filter((line) => line.startsWith(`${fresh}\t`));
    assert.deepEqual(rows, [`${fresh}\ttrue\tfalse\t[]`]);
  } finally {
    await rabbitmqctl(["delete_queue", fresh]);
  }
});

Deno.test("MqSession.startConsumer() uses the configured tag and prefetch with manual acks [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("consume");
  const tag = `tag-${crypto.randomUUID()}`;
  await using mq = session({ queues: [queue], prefetch: 7 });
  await mq.start();
  const got = new Deliveries();
  await mq.startConsumer(queue, tag, got.push);
  assert.deepEqual(await consumersOf(queue), [{ tag, prefetch: 7 }]);
  await broker.publish(queue, Array.from({ length: 20 }, (_, i) => `m-${i}`));
  await got.nth(7);
  // Manual acknowledgement: the prefetch bounds what is out, the rest waits in the queue.
  assert.equal(await broker.ready(queue), 13);
  assert.equal(got.all.length, 7);
  assert.equal(got.all[0]!.generation, mq.generation);
  assert.equal(got.all[0]!.contentType, undefined);
  for (const delivery of got.all.slice(0, 6)) mq.ack(delivery);
  await got.nth(13);
  mq.ack(got.all[12]!, true); // all up to it
  await got.nth(20);
  for (const delivery of got.all.slice(13)) mq.ack(delivery);
  assert.deepEqual(got.texts, Array.from({ length: 20 }, (_, i) => `m-${i}`));
  await mq.close();
  assert.equal(await broker.ready(queue), 0, "everything acknowledged");
});

Deno.test("MqSession.nack() with requeue puts the message back for redelivery [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("nack");
  await using mq = session({ queues: [queue], prefetch: 1 });
  await mq.start();
  const got = new Deliveries();
  await mq.startConsumer(queue, "nack-test", got.push);
  await broker.publish(queue, ["again", "dropped"]);
  const first = await got.nth(1);
  assert.equal(first.redelivered, false);
  mq.nack(first); // requeue is the default
  const second = await got.nth(2);
  assert.equal(second.body.toString(), "again");
  assert.equal(second.redelivered, true);
  mq.ack(second);
  const third = await got.nth(3);
  assert.equal(third.body.toString(), "dropped");
  mq.nack(third, false, false); // not requeued: dropped
  await mq.stopConsumer();
  assert.deepEqual(await consumersOf(queue), []);
  assert.equal(await broker.ready(queue), 0);
  assert.equal(got.all.length, 3);
});

Deno.test("MqSession reconnects after the broker closes its connection, and the consumer resumes [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("reconnect");
  const out = await broker.queue("reconnect-out");
  await using mq = session({ queues: [queue, out] });
  await mq.start();
  assert.equal(mq.generation, 1);
  const got = new Deliveries();
  await mq.startConsumer(queue, "reconnect-test", got.push);
  await broker.publish(queue, ["a1", "a2", "a3", "a4", "a5"]);
  await got.nth(5);
  for (const delivery of got.all.slice(0, 4)) mq.ack(delivery);
  const old = got.all[4]!; // delivery tag 5 on connection 1, unacknowledged

  const down = nextEvent((fn) => mq.onDown(fn), "onDown");
  const up = nextEvent((fn) => mq.onUp(fn), "onUp");
  assert.equal(await closeConnectionsNamed(mq.name), 1);
  const cause = await down;
  assert.match(String((cause as Error)?.message), /CONNECTION_FORCED|closed by test/);
  await up;
  assert.equal(mq.generation, 2);
  assert.ok(mq.up);
  assert.equal(mq.metrics.counter(MQ_CONNECTIONS_LOST_TOTAL), 1);

  // The unacknowledged message comes back on the new connection, by itself.
  const again = await got.nth(6);
  assert.equal(again.body.toString(), "a5");
  assert.equal(again.redelivered, true);
  assert.equal(again.generation, 2);
  // An ack for the old delivery (tag 5, unknown on the new channel) is ignored, not sent.
  mq.ack(old);
  mq.nack(old);
  mq.ack(again);
  await broker.publish(queue, ["b1"]);
  const fresh = await got.nth(7);
  assert.equal(fresh.body.toString(), "b1");
  mq.ack(fresh);
  await mq.publish(out, Buffer.from("after"), { ...TEXT, messageId: "after-1" });
  assert.equal(mq.generation, 2, "no channel error forced another reconnect");
  assert.ok(!/closed the (consume|publish) channel/.test(mq.sink.text), mq.sink.text);
  assert.deepEqual((await consumersOf(queue)).map((c) => c.tag), ["reconnect-test"]);
  await mq.close();
  assert.equal(await broker.ready(queue), 0, "nothing left unacknowledged");
  assert.equal(await broker.ready(out), 1);
});

Deno.test("MqSession redeclares a queue deleted under it and consumes again [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("deleted");
  await using mq = session({ queues: [queue] });
  await mq.start();
  const got = new Deliveries();
  await mq.startConsumer(queue, "deleted-test", got.push);
  const up = nextEvent((fn) => mq.onUp(fn), "onUp after the queue was deleted");
  await rabbitmqctl(["delete_queue", queue]);
  await up;
  await mq.sink.waitFor(/cancelled the consumer/);
  assert.deepEqual((await consumersOf(queue)).map((c) => c.tag), ["deleted-test"]);
  await broker.publish(queue, ["back"]);
  mq.ack(await got.nth(1));
});

Deno.test("MqSession.start() gives up with MqGaveUpError after maxConnectAttempts refused connections [integration]", async () => {
  await using proxy = startProxy(5672);
  proxy.refusing = true;
  await using mq = session({
    url: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
    maxConnectAttempts: 4,
    reconnectDelaySecs: 0.1,
  });
  const error = await settledError(mq.start());
  assert.ok(error instanceof MqGaveUpError, `got ${error}`);
  assert.match(error.message, /gave up after 4 attempts/);
  assert.ok(!error.message.includes("guest:guest"), "no password in the message");
  assert.equal(mq.metrics.counter(MQ_CONNECTION_ATTEMPTS_TOTAL), 4);
  assert.equal(proxy.accepted, 4);
  const retries = mq.sink.lines.filter((l) => /retrying in/.test(l));
  assert.deepEqual(retries.map((l) => /retrying in ([\d.]+) s/.exec(l)?.[1]), ["0.1", "0.2", "0.3"]);
  const times = mq.sink.records.filter((r) => /retrying in/.test(r.message)).map((r) => r.time);
  assert.ok(times[1]! - times[0]! >= 95 && times[2]! - times[1]! >= 195, `gaps grow: ${times}`);
  assert.equal(await settledError(mq.closed), error);
});

Deno.test("MqSession.start() gives up after maxConnectAttempts at a closed port [integration]", async () => {
  await using mq = session({ url: `amqp://guest:guest@127.0.0.1:${closedPort()}`, maxConnectAttempts: 2 });
  const error = await settledError(mq.start());
  assert.ok(error instanceof MqGaveUpError, `got ${error}`);
  assert.equal(mq.metrics.counter(MQ_CONNECTION_ATTEMPTS_TOTAL), 2);
  assert.match(mq.sink.text, /retrying in 0\.1 s.*ECONNREFUSED|retrying in 0\.1 s.*refused/i);
});

Deno.test("MqSession keeps retrying a dropped connection past maxConnectAttempts, and is back with the broker [integration]", async () => {
  await using proxy = startProxy(5672);
  await using mq = session({ url: `amqp://guest:guest@127.0.0.1:${proxy.port}`, maxConnectAttempts: 2 });
  await mq.start();
  const down = nextEvent((fn) => mq.onDown(fn), "onDown");
  proxy.refusing = true;
  proxy.cutAll();
  await down;
  assert.equal(mq.up, false);
  await assert.rejects(mq.publish("q", Buffer.from("x"), TEXT), MqUnavailableError);
  await mq.sink.waitFor(/Cannot connect to broker.*attempt="4 \(retrying until it is back\)"/);
  const up = nextEvent((fn) => mq.onUp(fn), "onUp");
  proxy.refusing = false;
  await up;
  assert.equal(mq.up, true);
  assert.equal(await Promise.race([mq.closed.then(() => "settled", () => "rejected"), "pending"]), "pending");
});

Deno.test("MqSession.start() rejects at once with MqAccessError when the broker refuses the login [integration]", async () => {
  await using user = await brokerUser();
  await using mq = session({ url: `amqp://${user.name}:wrong@127.0.0.1:5672`, maxConnectAttempts: 5 });
  const error = await settledError(mq.start());
  assert.ok(error instanceof MqAccessError, `got ${error}`);
  assert.match(error.message, /refused the login: .*ACCESS.REFUSED.*check mq_user_id and mq_password/);
  assert.equal(mq.metrics.counter(MQ_CONNECTION_ATTEMPTS_TOTAL), 1, "retrying cannot fix a password");
});

Deno.test("MqSession logs in with a password of any characters: non-ASCII, %, @, :, / [integration]", async () => {
  const password = "pässwörd-€-%-@-:-/-日本";
  await using user = await brokerUser({ password });
  await using mq = session({ url: user.url });
  await mq.start();
  assert.equal(mq.up, true);
});

Deno.test("MqSession.close() is safe twice and concurrently and returns unacknowledged deliveries [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("close");
  const mq = session({ queues: [queue] });
  await mq.start();
  const got = new Deliveries();
  await mq.startConsumer(queue, "close-test", got.push);
  await broker.publish(queue, ["u1", "u2", "u3"]);
  await got.nth(3);
  mq.ack(got.all[0]!);
  const [a, b] = [mq.close(), mq.close()];
  await withDeadline(Promise.all([a, b]), 5_000, "both close() calls");
  await mq.close();
  await mq[Symbol.asyncDispose]();
  await mq.closed;
  assert.equal(mq.up, false);
  mq.ack(got.all[1]!); // after close: ignored
  const back = await broker.collect(queue, 2);
  assert.deepEqual(back.map((m) => m.text), ["u2", "u3"]);
  assert.ok(back.every((m) => m.redelivered));
  assert.equal(await closeConnectionsNamed(mq.name), 0, "no connection left");
});

Deno.test("MqSession.close() returns within a bounded time when the broker stops answering [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("close-silent");
  await using proxy = startProxy(5672);
  const mq = session({
    queues: [queue],
    url: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
    heartbeatSecs: 0,
  });
  await mq.start();
  await holdEverythingAfterThis(proxy, mq, queue);
  await withDeadline(mq.close(), 6_000, "close() with a silent broker");
  await mq.closed;
  assert.equal(mq.up, false);
  await mq.sink.waitFor(/WARN .*did not answer the close within 2000 ms; dropping the connection/);
});

Deno.test("MqSession.close() returns promptly when the connection is cut while closing [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("close-cut");
  await using proxy = startProxy(5672);
  const mq = session({
    queues: [queue],
    url: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
    heartbeatSecs: 0,
  });
  await mq.start();
  await holdEverythingAfterThis(proxy, mq, queue);
  const closing = mq.close();
  proxy.cutAll();
  await withDeadline(closing, 6_000, "close() after the cut");
  await mq.closed;
  assert.ok(
    !/did not answer the close/.test(mq.sink.text),
    "it saw the cut: it did not wait out the close timeout",
  );
});

Deno.test("MqSession.close() during start() leaves no connection open [integration]", async () => {
  await using broker = await openBroker();
  const queue = await broker.queue("close-early");
  const mq = session({ queues: [queue] });
  const started = mq.start();
  await withDeadline(mq.close(), 5_000, "close()");
  await settledError(started);
  await mq.closed;
  assert.equal(mq.up, false);
  assert.equal(await closeConnectionsNamed(mq.name), 0, "no connection left");
});

Deno.test("MqSession.close() during the back-off stops retrying at once [integration]", async () => {
  const mq = session({ url: `amqp://guest:guest@127.0.0.1:${closedPort()}`, reconnectDelaySecs: 5 });
  const started = mq.start();
  await mq.sink.waitFor(/retrying in 5 s/);
  await withDeadline(mq.close(), 4_000, "close() to cut the 5 s back-off short");
  await settledError(started);
  await mq.closed;
  assert.equal(mq.metrics.counter(MQ_CONNECTION_ATTEMPTS_TOTAL), 1);
});

Deno.test("MqSession connects over TLS with a custom CA (caPem) [integration]", async () => {
  await using pki = await makeTestPki();
  await using tls = startTlsForwarder(pki, 5672);
  await using broker = await openBroker();
  const queue = await broker.queue("tls");
  await using mq = session({
    url: `amqps://guest:guest@localhost:${tls.port}`,
    caPem: pki.caPem,
    queues: [queue],
  });
  await mq.start();
  await mq.publish(queue, Buffer.from("over tls"), { ...TEXT, messageId: "tls-1" });
  const got = new Deliveries();
  await mq.startConsumer(queue, "tls-test", got.push);
  const delivery = await got.nth(1);
  assert.equal(delivery.body.toString(), "over tls");
  mq.ack(delivery);
  await broker.publish(queue, ["to the tls consumer"]);
  mq.ack(await got.nth(2));
  assert.deepEqual(tls.handshakeErrors, []);
});

Deno.test("MqSession rejects the broker's certificate without the custom CA [integration]", async () => {
  await using pki = await makeTestPki();
  await using tls = startTlsForwarder(pki, 5672);
  await using mq = session({ url: `amqps://guest:guest@localhost:${tls.port}`, maxConnectAttempts: 2 });
  const error = await settledError(mq.start());
  assert.ok(error instanceof MqGaveUpError, `got ${error}`);
  assert.match(String((error.cause as Error)?.message), /certificate|UnknownIssuer/i);
  assert.match(mq.sink.text, /retrying in 0\.1 s.*(certificate|UnknownIssuer)/i);
  assert.equal(mq.metrics.counter(MQ_CONNECTION_ATTEMPTS_TOTAL), 2);
  await withDeadline(tls.handshakeFailures(2), 2_000, "the forwarder to see both handshakes fail");
});

Deno.test("withHeartbeat() adds heartbeat= unless the URL sets it", () => {
  assert.equal(
    withHeartbeat("amqp://guest:guest@127.0.0.1:5672", 30),
    "amqp://guest:guest@127.0.0.1:5672?heartbeat=30",
  );
  assert.equal(withHeartbeat("amqps://u:p@h:5671?heartbeat=5", 30), "amqps://u:p@h:5671?heartbeat=5");
  assert.equal(
    withHeartbeat("amqps://h/vhost?frameMax=8192", 0),
    "amqps://h/vhost?frameMax=8192&heartbeat=0",
  );
  assert.equal(withHeartbeat("amqps://u:p%40ss@h:5671/%2F", 10), "amqps://u:p%40ss@h:5671/%2F?heartbeat=10");
});

Deno.test("MqSession.start() twice keeps one connection [integration]", async () => {
  await using mq = session();
  await mq.start();
  await mq.start();
  assert.equal(mq.metrics.counter(MQ_CONNECTION_ATTEMPTS_TOTAL), 1);
  const named = (await rabbitmqctl(["list_connections", "client_properties"])).split("\n")
    .filter((line) => line.includes(mq.name));
  assert.equal(named.length, 1);
});

Deno.test("MqSession logs a failing onUp listener and keeps the connection it made [integration]", async () => {
  await using mq = session();
  mq.onUp(() => {
    throw new Error("listener bug");
  });
  await mq.start();
  assert.ok(mq.up);
  assert.equal(mq.metrics.counter(MQ_CONNECTION_ATTEMPTS_TOTAL), 1);
  await mq.sink.waitFor(/ERROR .*A broker connection listener failed error="listener bug"/);
});
