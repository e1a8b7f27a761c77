/**
 * fastPublishFrames() and PublishEncoder (handlers/mq/publish_frames.ts)
 * against amqplib itself and the real RabbitMQ:
 *
 * - for every publish the fast path takes, its chunks are byte for byte the
 *   ones amqplib's own Connection.sendMessage queues, given the fields and
 *   properties amqplib's own channel makes from the options (both taken from
 *   a live connection: amqplib exports neither);
 * - every publish it does not know is left to amqplib;
 * - through the broker, a patched connection's messages arrive as an
 *   unpatched one's do, bodies split across frames included.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import amqp from "amqplib";
import type { ChannelModel, Options } from "amqplib";
import {
  BASIC_PROPERTIES,
  BASIC_PUBLISH,
  fastPublishFrames,
  PublishEncoder,
  type PublishFields,
  type PublishProperties,
} from "../../handlers/mq/publish_frames.ts";
import { AMQP_URL, openBroker, type Received } from "../_broker.ts";

type Publish = PublishFields & PublishProperties;
type SendMessage = (...a: unknown[]) => boolean;

/** amqplib's own pieces, from a live connection: its argument builder (through a channel) and its encoder. */
interface Amqplib {
  /** What amqplib's channel hands its connection for this publish (fields and properties are one object). */
  args(exchange: string, routingKey: string, options: Options.Publish): Publish;
  /** The chunks amqplib's own Connection.sendMessage queues on `channel` for this publish. */
  chunks(channel: number, publish: Publish, content: Buffer, frameMax: number): Buffer[];
}

/** Opens a connection whose publishes are recorded, not sent: amqplib's pieces for the tests. */
async function openAmqplib(): Promise<Amqplib & AsyncDisposable> {
  const conn = await amqp.connect(AMQP_URL);
  conn.on("error", () => {});
  const channel = await conn.createChannel();
  // deno-lint-ignore no-explicit-any
  const connection = conn.connection as any;
  const proto = Object.getPrototypeOf(connection);
  let recorded: Publish | null = null;
  connection.sendMessage = (_ch: number, _m: number, fields: Publish) => ((recorded = fields), true);
  return {
    args(exchange, routingKey, options) {
      recorded = null;
      channel.publish(exchange, routingKey, Buffer.alloc(0), options);
      assert.ok(recorded, "amqplib's channel called its connection's sendMessage");
      return recorded;
    },
    chunks(ch, publish, content, frameMax) {
      const written: Buffer[] = [];
      const fake = Object.create(proto);
      fake.frameMax = frameMax;
      fake.channels = { [ch]: { buffer: { write: (b: Buffer) => written.push(b) > 0 } } };
      (proto.sendMessage as SendMessage).call(
        fake,
        ch,
        BASIC_PUBLISH,
        publish,
        BASIC_PROPERTIES,
        publish,
        content,
      );
      return written;
    },
    async [Symbol.asyncDispose]() {
      await conn.close().catch(() => {});
    },
  };
}

const PUBLISH_OPTIONS: [string, Options.Publish][] = [
  ["the bridge's own", {
    contentType: "text/plain",
    persistent: true,
    expiration: "300000",
    messageId: "mq2wsbridge-3f2a-41",
    mandatory: true,
  }],
  ["binary, no expiration", { contentType: "application/octet-stream", persistent: true, messageId: "m-1" }],
  ["no options at all", {}],
  ["transient", { persistent: false }],
  ["an empty contentType and messageId", { contentType: "", messageId: "" }],
  ["headers with only undefined values", { headers: { a: undefined } }],
];

Deno.test("PublishEncoder writes amqplib's chunks, for every body size around the frame limits [integration]", async () => {
  await using amqplib = await openAmqplib();
  const encoder = new PublishEncoder(); // one for all: its strings are kept encoded between publishes
  const routingKeys = ["q", `bridge.${"x".repeat(248)}`]; // the longest short string: 255 bytes
  for (const frameMax of [100, 4096, 131072]) { // 100: a single chunk ignores it, as amqplib's does
    const sizes = [0, 1, 100, 2047, 2048, frameMax - 9, frameMax - 8, frameMax - 7, 3 * frameMax + 5];
    for (const [label, options] of PUBLISH_OPTIONS) {
      for (const routingKey of routingKeys) {
        for (const size of sizes) {
          if (frameMax === 100 && size > 1_000) continue; // amqplib refuses those: below
          for (const channel of [1, 65535]) {
            const content = Buffer.alloc(size);
            for (let i = 0; i < size; i++) content[i] = (i * 31 + size) & 0xff;
            const publish = amqplib.args("", routingKey, options);
            const want = amqplib.chunks(channel, publish, content, frameMax);
            const got = encoder.encode(channel, publish, publish, content, frameMax);
            assert.ok(got, `${label}, ${size} B: the fast path took it`);
            assert.deepEqual(
              got,
              want,
              `${label}, ${size} B, frameMax ${frameMax}, channel ${channel}, key of ${routingKey.length}`,
            );
          }
        }
      }
    }
  }
});

Deno.test("PublishEncoder writes the exchange and both method bits as amqplib does [integration]", async () => {
  await using amqplib = await openAmqplib();
  const content = Buffer.from("hello");
  for (const exchange of ["", "amq.direct"]) {
    for (const mandatory of [false, true]) {
      const publish = { ...amqplib.args(exchange, "k", { mandatory }), immediate: true };
      assert.deepEqual(
        new PublishEncoder().encode(7, publish, publish, content, 131072),
        amqplib.chunks(7, publish, content, 131072),
      );
    }
  }
});

Deno.test("PublishEncoder leaves to amqplib what it does not write itself [integration]", async () => {
  await using amqplib = await openAmqplib();
  const args = amqplib.args;
  const content = Buffer.from("x");
  const cases: [string, Publish, Buffer?][] = [
    ["a priority", args("", "q", { priority: 1 })],
    ["a correlation id", args("", "q", { correlationId: "c" })],
    ["a reply-to", args("", "q", { replyTo: "r" })],
    ["a timestamp", args("", "q", { timestamp: 1 })],
    ["a type", args("", "q", { type: "t" })],
    ["a user id", args("", "q", { userId: "guest" })],
    ["an app id", args("", "q", { appId: "a" })],
    ["a content encoding", args("", "q", { contentEncoding: "gzip" })],
    ["a header", args("", "q", { headers: { a: 1 } })],
    ["an inherited header (CC)", args("", "q", { CC: "other" })],
    ["a routing key that is not ASCII", args("", "queue-é", {})],
    ["a routing key of 256 characters", args("", "q".repeat(256), {})],
    ["a content type that is not ASCII", args("", "q", { contentType: "text/é" })],
    ["a message id of 256 characters", args("", "q", { messageId: "m".repeat(256) })],
    ["a delivery mode out of range", { ...args("", "q", {}), deliveryMode: 256 }],
    ["a ticket", { ...args("", "q", {}), ticket: 5 }],
    ["a null ticket", { ...args("", "q", {}), ticket: null }],
    ["a null exchange", { ...args("", "q", {}), exchange: null }],
    ["a null routing key", { ...args("", "q", {}), routingKey: null }],
    ["content that is not a Buffer", args("", "q", {}), new Uint8Array(1) as Buffer],
    ["a frame limit that leaves no room for a body", args("", "q", {}), Buffer.alloc(4096)],
  ];
  for (const [label, publish, body] of cases) {
    const frameMax = label.startsWith("a frame limit") ? 8 : 131072;
    assert.equal(new PublishEncoder().encode(1, publish, publish, body ?? content, frameMax), null, label);
  }
});

Deno.test("A patched connection throws amqplib's own errors for what amqplib refuses [integration]", async () => {
  const conn = await amqp.connect(AMQP_URL);
  try {
    assert.equal(fastPublishFrames(conn), true);
    const channel = await conn.createChannel();
    assert.throws(() => channel.publish("", "q", new Uint8Array(1) as Buffer), /content is not a buffer/);
    assert.throws(() => channel.publish("", "q".repeat(256), Buffer.from("x")), /routingKey/);
    assert.throws(() => channel.publish(null as unknown as string, "q", Buffer.from("x")), /exchange/);
  } finally {
    await conn.close();
  }
});

/** A stand-in for amqplib's Connection: its sendMessage records that it ran, one channel's queue records frames. */
function fakeConnection(writeResult: boolean) {
  const frames: Buffer[] = [];
  const amqplibCalls: number[] = [];
  const connection = {
    frameMax: 131072,
    sentSinceLastCheck: false,
    channels: [undefined, { buffer: { write: (b: Buffer) => (frames.push(b), writeResult) } }],
    sendMessage: (_channel: number, method: number) => (amqplibCalls.push(method), true),
  };
  return { model: { connection } as unknown as ChannelModel, connection, frames, amqplibCalls };
}

Deno.test("fastPublishFrames() encodes publishes itself, hands amqplib the rest, and passes on backpressure [integration]", async () => {
  await using amqplib = await openAmqplib();
  const args = amqplib.args;
  const fake = fakeConnection(false);
  assert.equal(fastPublishFrames(fake.model), true);
  const send = fake.connection.sendMessage as unknown as (...a: unknown[]) => boolean;
  const plain = args("", "q", { persistent: true });
  const content = Buffer.from("body");

  assert.equal(send(1, BASIC_PUBLISH, plain, BASIC_PROPERTIES, plain, content), false, "the queue's answer");
  assert.deepEqual(fake.frames, amqplib.chunks(1, plain, content, 131072));
  assert.equal(fake.connection.sentSinceLastCheck, true, "the heartbeat sees the publish");
  assert.deepEqual(fake.amqplibCalls, []);

  const withHeader = args("", "q", { headers: { trace: "1" } });
  send(1, BASIC_PUBLISH, withHeader, BASIC_PROPERTIES, withHeader, content);
  send(1, 3932180, /* basic.ack */ {}, BASIC_PROPERTIES, {}, content);
  assert.deepEqual(fake.amqplibCalls, [BASIC_PUBLISH, 3932180]);
  assert.equal(fake.frames.length, 1, "nothing of the fast path's for those");

  // A message of several chunks: amqplib answers with the last chunk's write, and so does the fast path.
  const answers = [false, true];
  fake.connection.channels[1] = {
    buffer: { write: (b: Buffer) => (fake.frames.push(b), answers.shift() ?? true) },
  };
  const big = Buffer.alloc(200 * 1024);
  assert.equal(send(1, BASIC_PUBLISH, plain, BASIC_PROPERTIES, plain, big), true);
  assert.deepEqual(fake.frames.slice(1), amqplib.chunks(1, plain, big, 131072), "head and two body frames");
});

Deno.test("fastPublishFrames() changes nothing on a connection it was not written against", () => {
  const connection = { channels: [] };
  assert.equal(fastPublishFrames({ connection } as unknown as ChannelModel), false);
  assert.deepEqual(Object.keys(connection), ["channels"]);
});

Deno.test("a patched connection's messages reach the broker as an unpatched one's do [integration]", async () => {
  await using broker = await openBroker();
  const bodies = [Buffer.alloc(0), Buffer.from("x".repeat(100)), Buffer.alloc(300 * 1024, 7)]; // 300 KiB: 3 frames
  const options = PUBLISH_OPTIONS.map(([, o]) => ({ ...o, mandatory: false }));
  const received: Received[][] = [];
  for (const patched of [false, true]) {
    const queue = await broker.queue(patched ? "frames-fast" : "frames-plain");
    const conn = await amqp.connect(AMQP_URL);
    try {
      const byAmqplib = countEncodes(conn); // under the fast path: what it hands to amqplib
      if (patched) assert.equal(fastPublishFrames(conn), true);
      const channel = await conn.createConfirmChannel();
      for (const o of options) for (const body of bodies) channel.publish("", queue, body, o);
      await channel.waitForConfirms();
      assert.equal(byAmqplib.calls, patched ? 0 : options.length * bodies.length, "who encoded them");
    } finally {
      await conn.close();
    }
    received.push(await broker.collect(queue, options.length * bodies.length));
  }
  const [plain, fast] = received as [Received[], Received[]];
  assert.equal(fast.length, plain.length);
  for (let i = 0; i < plain.length; i++) {
    assert.deepEqual(fast[i]!.body, plain[i]!.body, `message ${i}: body`);
    assert.deepEqual(fast[i]!.properties, plain[i]!.properties, `message ${i}: properties`);
  }
  assert.equal(fast[0]!.properties.messageId, "mq2wsbridge-3f2a-41", "the properties came through");
  assert.equal(fast[2]!.body.length, 300 * 1024);
});

/** Counts the publishes amqplib's own encoder makes on `conn` (installed before fastPublishFrames). */
function countEncodes(conn: ChannelModel): { calls: number } {
  const count = { calls: 0 };
  // deno-lint-ignore no-explicit-any
  const connection = conn.connection as any;
  const encode = connection.sendMessage as SendMessage;
  connection.sendMessage = function (...a: unknown[]) {
    if (a[1] === BASIC_PUBLISH) count.calls++;
    return encode.apply(this, a);
  };
  return count;
}
