/**
 * Test fixture: a connection of the test's own to the real RabbitMQ, unique
 * queues that are deleted when the test ends, and helpers to publish,
 * collect and count messages. Also closes a named client connection
 * broker-side, the way an operator or a broker restart would.
 */
import amqp from "amqplib";
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Options } from "amqplib";
import { Buffer } from "node:buffer";
import { rabbitmqctl } from "../tools/rabbitmqctl.ts";

/** The broker the tests use; override with AMQP_URL. */
export const AMQP_URL = Deno.env.get("AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672";

/** A received message, reduced to what tests look at. */
export interface Received {
  body: Buffer;
  text: string;
  properties: ConsumeMessage["properties"];
  redelivered: boolean;
}

/** The test's broker connection; `await using broker = await openBroker()`. */
export class TestBroker implements AsyncDisposable {
  readonly #conn: ChannelModel;
  readonly #channel: ConfirmChannel;
  readonly #queues: string[] = [];

  private constructor(conn: ChannelModel, channel: ConfirmChannel) {
    this.#conn = conn;
    this.#channel = channel;
  }

  /** Connects to `url` (default: the shared broker, AMQP_URL). */
  static async open(url = AMQP_URL): Promise<TestBroker> {
    const conn = await amqp.connect(url, { noDelay: true });
    conn.on("error", () => {});
    const channel = await conn.createConfirmChannel();
    channel.on("error", () => {});
    return new TestBroker(conn, channel);
  }

  /** A unique durable queue, deleted at dispose. */
  async queue(label: string, options: Options.AssertQueue = { durable: true }): Promise<string> {
    const name = `test.${label}.${crypto.randomUUID()}`;
    this.#queues.push(name);
    await this.#channel.assertQueue(name, options);
    return name;
  }

  /** Publishes and waits for the broker's confirms. */
  async publish(
    queue: string,
    bodies: (string | Uint8Array)[],
    options: Options.Publish = {},
  ): Promise<void> {
    for (const body of bodies) {
      const ok = this.#channel.sendToQueue(queue, Buffer.from(body), options);
      if (!ok) await new Promise((resolve) => this.#channel.once("drain", resolve));
    }
    await this.#channel.waitForConfirms();
  }

  /** Consumes (acknowledging) until `count` messages arrived; rejects after `ms` saying how many did. */
  async collect(
    queue: string,
    count: number,
    ms = 10_000,
    until?: (all: Received[]) => boolean,
  ): Promise<Received[]> {
    const channel = await this.#conn.createChannel();
    const got: Received[] = [];
    const done = Promise.withResolvers<Received[]>();
    const timer = setTimeout(
      () =>
        done.reject(
          new Error(`Cannot collect ${count} messages from ${queue}: got ${got.length} in ${ms} ms`),
        ),
      ms,
    );
    await channel.consume(queue, (msg) => {
      if (!msg) return;
      got.push({
        body: msg.content,
        text: msg.content.toString("utf8"),
        properties: msg.properties,
        redelivered: msg.fields.redelivered,
      });
      channel.ack(msg);
      if (until ? until(got) : got.length >= count) done.resolve(got);
    });
    try {
      return await done.promise;
    } finally {
      clearTimeout(timer);
      await channel.close();
    }
  }

  /** Messages ready in the queue (not counting unacknowledged ones). */
  async ready(queue: string): Promise<number> {
    return (await this.#channel.checkQueue(queue)).messageCount;
  }

  /** Takes every ready message off the queue, without waiting for more. */
  async drain(queue: string): Promise<Received[]> {
    const out: Received[] = [];
    for (let msg; (msg = await this.#channel.get(queue, { noAck: true }));) {
      out.push({
        body: msg.content,
        text: msg.content.toString("utf8"),
        properties: msg.properties,
        redelivered: msg.fields.redelivered,
      });
    }
    return out;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const queue of this.#queues) await this.#channel.deleteQueue(queue).catch(() => {});
    await this.#conn.close().catch(() => {});
  }
}

/** Opens the test's broker connection (to `url`, default AMQP_URL). */
export function openBroker(url?: string): Promise<TestBroker> {
  return TestBroker.open(url);
}

/** Closes, broker-side, every client connection whose name contains `name`; returns how many. */
export async function closeConnectionsNamed(name: string): Promise<number> {
  const list = await rabbitmqctl(["list_connections", "pid", "client_properties"]);
  const pids = list.split("\n").filter((line) => line.includes(name)).map((line) => line.split("\t")[0]!);
  for (const pid of pids) await rabbitmqctl(["close_connection", pid, "closed by test"]);
  return pids.length;
}

/** Consumers of a queue as rabbitmqctl reports them: tag and prefetch. */
export async function consumersOf(queue: string): Promise<{ tag: string; prefetch: number }[]> {
  const out = await rabbitmqctl(["list_consumers", "queue_name", "consumer_tag", "prefetch_count"]);
  return out.split("\n").map((line) => line.split("\t")).filter((cols) => cols[0] === queue)
    .map((cols) => ({ tag: cols[1]!, prefetch: Number(cols[2]) }));
}

/**
 * A broker user that exists for one test: its password really authenticates, so tests can hunt for
 * it in logs. `configure` is its configure permission (regex; "^$" lets it create nothing).
 */
export async function brokerUser(
  { configure = ".*", password = `pw-${crypto.randomUUID()}` } = {},
): Promise<AsyncDisposable & { name: string; password: string; url: string }> {
  const name = `test-user-${crypto.randomUUID().slice(0, 8)}`;
  await rabbitmqctl(["add_user", name, password]);
  await rabbitmqctl(["set_permissions", "-p", "/", name, configure, ".*", ".*"]);
  return {
    name,
    password,
    url: `amqp://${name}:${encodeURIComponent(password)}@127.0.0.1:5672`,
    [Symbol.asyncDispose]: async () => void await rabbitmqctl(["delete_user", name]),
  };
}

/** A RabbitMQ policy dead-lettering rejected messages of `queue` into `deadLetters`; removed at dispose. */
export async function deadLetterPolicy(queue: string, deadLetters: string): Promise<AsyncDisposable> {
  const name = `test-dlx-${crypto.randomUUID().slice(0, 8)}`;
  const definition = JSON.stringify({ "dead-letter-exchange": "", "dead-letter-routing-key": deadLetters });
  const pattern = `^${queue.replaceAll(".", "\\.")}$`;
  await rabbitmqctl(["set_policy", "--apply-to", "queues", name, pattern, definition]);
  return { [Symbol.asyncDispose]: async () => void await rabbitmqctl(["clear_policy", name]) };
}
