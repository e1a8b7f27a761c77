/**
 * coalesceWrites() (handlers/mq/protocol.ts) against the real RabbitMQ: the
 * frames amqplib queues in one pass reach the socket in a few writes instead
 * of one per message, and the broker still gets every message, whole and in
 * order. The same publishes on a connection left as amqplib makes it are the
 * control: there, every message is its own write.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import amqp from "amqplib";
import type { ChannelModel } from "amqplib";
import { coalesceWrites } from "../../handlers/mq/protocol.ts";
import { AMQP_URL, openBroker } from "../_broker.ts";

const MESSAGES = 500;

/** What reaches the socket: calls of its `_write` (one chunk) and `_writev` (several at once). */
interface WriteCount {
  calls: number;
  chunks: number;
}

/** Counts the writes that leave amqplib's socket, as the socket's own stream machinery makes them. */
function countWrites(conn: ChannelModel): WriteCount {
  // deno-lint-ignore no-explicit-any
  const socket = (conn.connection as any).stream;
  const count = { calls: 0, chunks: 0 };
  const write = socket._write.bind(socket);
  const writev = socket._writev?.bind(socket);
  socket._write = (chunk: unknown, encoding: unknown, cb: unknown) => {
    count.calls++;
    count.chunks++;
    return write(chunk, encoding, cb);
  };
  if (writev) {
    socket._writev = (chunks: unknown[], cb: unknown) => {
      count.calls++;
      count.chunks += chunks.length;
      return writev(chunks, cb);
    };
  }
  return count;
}

/** Publishes MESSAGES numbered bodies in one turn on a confirm channel and waits for every confirm. */
async function publishAll(conn: ChannelModel, queue: string, label: string): Promise<void> {
  const channel = await conn.createConfirmChannel();
  for (let i = 0; i < MESSAGES; i++) {
    channel.publish("", queue, Buffer.from(`${label}-${i}-${"x".repeat(100)}`), { persistent: true });
  }
  await channel.waitForConfirms();
  await channel.close();
}

Deno.test("coalesceWrites() sends a pass of frames in a few writes, every message whole and in order [integration]", async () => {
  await using broker = await openBroker();
  const plainQueue = await broker.queue("coalesce-plain");
  const coalescedQueue = await broker.queue("coalesce-corked");

  const plain = await amqp.connect(AMQP_URL, { noDelay: true });
  const coalesced = await amqp.connect(AMQP_URL, { noDelay: true });
  try {
    assert.equal(coalesceWrites(coalesced), true, "amqplib's multiplexer and socket are where expected");
    const plainWrites = countWrites(plain);
    const coalescedWrites = countWrites(coalesced);

    await publishAll(plain, plainQueue, "plain");
    await publishAll(coalesced, coalescedQueue, "corked");

    // Without coalescing each publish is one write of its own (plus the channel's open and close).
    assert.ok(plainWrites.calls >= MESSAGES, `control: ${plainWrites.calls} writes for ${MESSAGES} messages`);
    // With it the socket still takes every frame, but many to a write.
    assert.ok(coalescedWrites.chunks >= MESSAGES, `${coalescedWrites.chunks} frames reached the socket`);
    assert.ok(
      coalescedWrites.calls <= MESSAGES / 10,
      `${coalescedWrites.calls} writes for ${MESSAGES} messages (want at most ${MESSAGES / 10})`,
    );

    const received = await broker.drain(coalescedQueue);
    assert.deepEqual(
      received.map((m) => m.text),
      Array.from({ length: MESSAGES }, (_, i) => `corked-${i}-${"x".repeat(100)}`),
    );
  } finally {
    await plain.close();
    await coalesced.close();
  }
});

Deno.test("coalesceWrites() leaves a connection whose internals are not amqplib's as it was", () => {
  const conn = { connection: { muxer: {}, stream: {} } } as unknown as ChannelModel;
  assert.equal(coalesceWrites(conn), false);
  assert.deepEqual(conn.connection, { muxer: {}, stream: {} });
});
