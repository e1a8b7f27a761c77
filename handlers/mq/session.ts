/**
 * The AMQP broker, through amqplib. `MqSession` keeps one connection with a
 * confirm channel for publishing and/or a channel for consuming (its `role`;
 * the bridge runs one session of each, as RabbitMQ advises), makes sure its
 * queues exist once per connection, and reconnects with back-off when the
 * connection drops (one reconnect at a time).
 *
 * Connection policy: the first connection gets `maxConnectAttempts`
 * attempts, then `closed` rejects (a wrong address should fail fast, and
 * nothing is held yet). Once it has been up, a lost connection is retried
 * for as long as it takes (an Amazon MQ maintenance reboot takes minutes;
 * what the bridge holds must not be given up while it can still be
 * published), with the wait growing to 30 s.
 *
 * amqplib's `error` events are turned into reconnects or `closed`
 * rejections here, so nothing is left unlistened. Deliveries carry the
 * connection generation they came from: acknowledging one from a connection
 * that is gone does nothing (the broker has already requeued it).
 */
import amqp from "amqplib";
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from "amqplib";
import { Buffer } from "node:buffer";
import { delay, within } from "../../lib/async.ts";
import type { Secret } from "../../lib/secret.ts";
import { fastPublishFrames } from "./publish_frames.ts";
import { type Metrics, MQ_CONNECTION_ATTEMPTS_TOTAL, MQ_CONNECTIONS_LOST_TOTAL } from "../../lib/metrics.ts";
import { errorText, type Logger } from "../../lib/log.ts";
import {
  coalesceWrites,
  declareQueues,
  destroySocket,
  explain,
  ignoreClosed,
  isAccessRefused,
  MqAccessError,
  MqGaveUpError,
  MqReturnedError,
  MqSetupError,
  MqUnavailableError,
  plainCredentials,
  tagOnly,
  withHeartbeat,
} from "./protocol.ts";

export { MqAccessError, MqGaveUpError, MqReturnedError, MqSetupError, MqUnavailableError, withHeartbeat };

/** How to reach the broker and what to set up on each connection. */
export interface MqSessionOptions {
  url: Secret;
  displayUrl: string;
  /** PEM text of the CA that signed the broker's certificate, if not a public one. */
  caPem?: string | null;
  /** Made sure of on every (re)connection: used as they are if they exist, else declared durable. */
  queues: readonly string[];
  /** Type of the queues this session declares when they are missing (default classic). */
  queueType?: "classic" | "quorum";
  /** What the connection is for: consuming, publishing, or both (default). */
  role?: "consume" | "publish" | "both";
  prefetch: number;
  heartbeatSecs: number;
  maxConnectAttempts: number;
  reconnectDelaySecs: number;
  /** Shown by `rabbitmqctl list_connections client_properties`. */
  connectionName: string;
}

/** Publish properties; `messageId` also makes the message mandatory (unroutable = failure). */
export interface PublishProps {
  contentType: string;
  expirationMs?: number;
  messageId?: string;
}

/** What acknowledging needs: the delivery tag and the connection it belongs to. */
export interface MqAckHandle {
  readonly tag: number;
  /** The connection it came from; acks for an older one are ignored. */
  readonly generation: number;
}

/** One message taken from a queue, not yet acknowledged. */
export interface MqDelivery extends MqAckHandle {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly redelivered: boolean;
}

/** What the bridge's two sessions need of the resolved `[aws_mq]` settings (config/ gives this shape). */
export interface BridgeMqSettings {
  url: Secret;
  displayUrl: string;
  queueToWs: string;
  queueFromWs: string;
  queueType: "classic" | "quorum";
  prefetch: number;
  heartbeatSecs: number;
  maxConnectAttempts: number;
  reconnectDelaySecs: number;
}

/** Session options from the resolved `[aws_mq]` settings: the one place they are mapped. */
export function settingsOptions(
  settings: BridgeMqSettings,
  opts: {
    queues: readonly string[];
    connectionName: string;
    role?: MqSessionOptions["role"];
    caPem?: string | null;
  },
): MqSessionOptions {
  return {
    url: settings.url,
    displayUrl: settings.displayUrl,
    caPem: opts.caPem ?? null,
    queues: opts.queues,
    queueType: settings.queueType,
    role: opts.role ?? "both",
    prefetch: settings.prefetch,
    heartbeatSecs: settings.heartbeatSecs,
    maxConnectAttempts: settings.maxConnectAttempts,
    reconnectDelaySecs: settings.reconnectDelaySecs,
    connectionName: opts.connectionName,
  };
}

/** The bridge's two sessions for `settings`: one consumes to_ws, one publishes from_ws (named `name consume|publish`). */
export function bridgeSessions(
  settings: BridgeMqSettings,
  deps: { log: Logger; metrics: Metrics; name: string; caPem?: string | null },
): { consumer: MqSession; publisher: MqSession } {
  const session = (role: "consume" | "publish", queue: string) =>
    new MqSession(
      settingsOptions(settings, {
        queues: [queue],
        role,
        connectionName: `${deps.name} ${role}`,
        caPem: deps.caPem ?? null,
      }),
      { log: deps.log.child(`mq.${role}`), metrics: deps.metrics },
    );
  return {
    consumer: session("consume", settings.queueToWs),
    publisher: session("publish", settings.queueFromWs),
  };
}

/** How long close() waits for the broker to answer before it drops the connection. */
const CLOSE_TIMEOUT_MS = 2_000;
const MAX_RECONNECT_DELAY_SECS = 30;
const CONNECT_TIMEOUT_MS = 10_000;

interface Consumer {
  queue: string;
  tag: string;
  onDelivery: (delivery: MqDelivery) => void;
}

/** A self-healing connection to the broker. */
export class MqSession {
  readonly #opts: MqSessionOptions;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  #conn: ChannelModel | null = null;
  #pub: ConfirmChannel | null = null;
  #sub: Channel | null = null;
  #generation = 0;
  #closing = false;
  #closePromise: Promise<void> | null = null;
  #stop = new AbortController();
  #reconnecting: Promise<void> | null = null;
  #started: Promise<void> | null = null;
  #consumer: Consumer | null = null;
  #consumingOn = -1; // generation the consumer is active on
  #consumeConfirmed = -1; // generation on which the broker confirmed the consumer (basic.consume-ok)
  #activeTag: string | null = null;
  #consumerOp: Promise<void> = Promise.resolve();
  #returned = new Set<string>();
  #everUp = false;
  #writable = true;
  #blocked = false;
  #blockedListeners = new Set<(blocked: boolean) => void>();
  #tooLargeListeners = new Set<(maxBytes: number) => void>();
  #drainWaiters: (() => void)[] = [];
  #upListeners = new Set<() => void>();
  #downListeners = new Set<(cause: unknown) => void>();
  #closed = Promise.withResolvers<void>();

  /** Resolves after `close()`; rejects with `MqGaveUpError` or `MqSetupError` when the session fails. */
  readonly closed: Promise<void> = this.#closed.promise;

  constructor(opts: MqSessionOptions, deps: { log: Logger; metrics: Metrics }) {
    this.#opts = opts;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.closed.catch(() => {}); // callers observe it when they choose; never unhandled
  }

  /** True while connected with both channels open. */
  get up(): boolean {
    return this.#conn !== null;
  }

  /** Increases with every successful connection. */
  get generation(): number {
    return this.#generation;
  }

  /** False after a publish filled the socket buffer, until it drains. */
  get writable(): boolean {
    return this.#writable;
  }

  /** True while the broker blocks this connection's publishes (a memory or disk alarm). */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Calls `fn` when the broker starts or stops blocking publishes. */
  onBlocked(fn: (blocked: boolean) => void): void {
    this.#blockedListeners.add(fn);
  }

  /** Calls `fn(maxBytes)` when the broker refused a message as larger than its max_message_size. */
  onMessageTooLarge(fn: (maxBytes: number) => void): void {
    this.#tooLargeListeners.add(fn);
  }

  /** Calls `fn` after each successful (re)connection. */
  onUp(fn: () => void): void {
    this.#upListeners.add(fn);
  }

  /** Calls `fn` when an established connection is lost. */
  onDown(fn: (cause: unknown) => void): void {
    this.#downListeners.add(fn);
  }

  /** Connects (retrying per the policy); resolves once up. */
  async start(): Promise<void> {
    // Once connected, the session reconnects by itself: a second start() only waits.
    this.#started ??= this.#connectLoop();
    await this.#started;
    if (!this.up) await this.closed; // rejects with the reason; resolves if closed meanwhile
  }

  /** Publishes to `queue` through the default exchange; resolves when the broker confirms. */
  publish(queue: string, body: Buffer, props: PublishProps): Promise<void> {
    return new Promise((resolve, reject) =>
      this.publishConfirmed(queue, body, props, (err) => err ? reject(err) : resolve())
    );
  }

  /**
   * The same without a promise (the bridge's hot path): `onConfirm(null)` once the broker
   * confirms, `onConfirm(error)` otherwise; always called later, never from inside this call.
   */
  publishConfirmed(
    queue: string,
    body: Buffer,
    props: PublishProps,
    onConfirm: (err: Error | null) => void,
  ): void {
    const channel = this.#pub;
    if (!channel) {
      queueMicrotask(() =>
        onConfirm(new MqUnavailableError("Cannot publish: the broker connection is down"))
      );
      return;
    }
    const options: Options.Publish = { contentType: props.contentType, persistent: true };
    if (props.expirationMs !== undefined) options.expiration = String(props.expirationMs);
    const id = props.messageId;
    if (id !== undefined) {
      options.messageId = id;
      options.mandatory = true;
    }
    // amqplib takes only a Buffer; a Uint8Array is wrapped, not copied.
    const content = body instanceof Buffer
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    try {
      const ok = channel.publish("", queue, content, options, (err: unknown) => {
        if (id !== undefined && this.#returned.size > 0 && this.#returned.delete(id)) {
          onConfirm(
            new MqReturnedError(`The broker could not route the message to queue "${queue}" (deleted?)`),
          );
        } else if (err) {
          onConfirm(new MqUnavailableError("The broker did not confirm the message", { cause: err }));
        } else {
          onConfirm(null);
        }
      });
      if (!ok) this.#writable = false;
    } catch (err) {
      const error = new MqUnavailableError("Cannot publish: the channel is closed", { cause: err });
      queueMicrotask(() => onConfirm(error));
    }
  }

  /** Resolves when publishing may continue (buffer drained, or the connection changed). */
  waitWritable(): Promise<void> {
    if (this.#writable || !this.up) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** True while the broker has a consumer of ours registered on the current connection. */
  get consuming(): boolean {
    return this.#consumer !== null && this.#sub !== null && this.#consumeConfirmed === this.#generation;
  }

  /** Starts consuming `queue` now and after every reconnect, until `stopConsumer()`. */
  startConsumer(queue: string, tag: string, onDelivery: (d: MqDelivery) => void): Promise<void> {
    this.#consumer = { queue, tag, onDelivery };
    return this.#reconcileConsumer();
  }

  /** Cancels the consumer; deliveries already in flight may still arrive. */
  stopConsumer(): Promise<void> {
    this.#consumer = null;
    return this.#reconcileConsumer();
  }

  /** Acknowledges one delivery, or all up to it. Ignored if its connection is gone. */
  ack(delivery: MqAckHandle, allUpTo = false): void {
    const channel = this.#channelFor(delivery);
    if (channel) ignoreClosed(() => channel.ack(tagOnly(delivery), allUpTo));
  }

  /** Rejects one delivery, or all unacknowledged up to it, back to the queue (or drops it). */
  nack(delivery: MqAckHandle, allUpTo = false, requeue = true): void {
    const channel = this.#channelFor(delivery);
    if (channel) ignoreClosed(() => channel.nack(tagOnly(delivery), allUpTo, requeue));
  }

  /** Makes sure of the queues again (after one was deleted under us). */
  async redeclare(): Promise<void> {
    if (this.#conn) await declareQueues(this.#conn, this.#opts.queues, this.#opts.queueType ?? "classic");
  }

  /** Deletes a queue and the messages in it (demo and tool clean-up). */
  async deleteQueue(queue: string): Promise<void> {
    const channel = this.#pub ?? this.#sub;
    if (!channel) {
      throw new MqUnavailableError(`Cannot delete queue "${queue}": the broker connection is down`);
    }
    await channel.deleteQueue(queue);
  }

  /** Closes the connection (unacknowledged deliveries return to their queue). Safe to call twice. */
  close(): Promise<void> {
    return this.#closePromise ??= this.#doClose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #doClose(): Promise<void> {
    this.#closing = true;
    this.#stop.abort();
    // A connection attempt in flight may still succeed: let it finish, then close what it opened.
    await this.#reconnecting?.catch(() => {});
    const [conn, sub, pub] = [this.#conn, this.#sub, this.#pub];
    this.#detach();
    if (conn) await this.#closeConnection(conn, [sub, pub]);
    await this.#consumerOp;
    this.#closed.resolve();
  }

  /**
   * Closes the channels, then the connection. amqplib settles a close only when the broker
   * answers it: if the connection drops meanwhile, or the broker stops answering, its promise
   * never settles. So this stops waiting once the connection is gone, and after
   * CLOSE_TIMEOUT_MS drops the socket instead.
   */
  async #closeConnection(conn: ChannelModel, channels: (Channel | null)[]): Promise<void> {
    const gone = new Promise<void>((resolve) => conn.once("close", () => resolve()));
    const graceful = (async () => {
      // Channels first: amqplib can put connection.close on the wire ahead of acks still
      // queued on a channel, and the broker then redelivers messages we acknowledged. A
      // channel's own close follows its acks in order.
      for (const channel of channels) await channel?.close().catch(() => {});
      await conn.close().catch(() => {});
    })();
    if (await within(Promise.race([graceful, gone]), CLOSE_TIMEOUT_MS)) return;
    this.#log.warn(
      `The broker did not answer the close within ${CLOSE_TIMEOUT_MS} ms; dropping the connection`,
    );
    destroySocket(conn);
    await within(gone, CLOSE_TIMEOUT_MS);
  }

  #channelFor(delivery: MqAckHandle): Channel | null {
    return delivery.generation === this.#generation ? this.#sub : null;
  }

  #connectLoop(): Promise<void> {
    return this.#reconnecting ??= this.#attempts().finally(() => this.#reconnecting = null);
  }

  async #attempts(): Promise<void> {
    const { maxConnectAttempts: max, reconnectDelaySecs: step, displayUrl } = this.#opts;
    for (let attempt = 1; !this.#closing; attempt++) {
      this.#metrics.count(MQ_CONNECTION_ATTEMPTS_TOTAL);
      try {
        await this.#open();
        if (this.#closing) return; // close() is waiting for this attempt, and closes what it opened
        this.#everUp = true;
        this.#log.info("Connected to broker", { url: displayUrl, attempt });
        this.#notify(this.#upListeners, undefined);
        return;
      } catch (err) {
        // Before the first connection, a refused login or too many failures end the session;
        // after it, only a refusal of the queues themselves does (see the module comment).
        const refused = !this.#everUp && isAccessRefused(err);
        if (err instanceof MqSetupError || refused || (!this.#everUp && attempt >= max)) {
          const fatal = err instanceof MqSetupError
            ? err
            : refused
            ? new MqAccessError(`The broker ${displayUrl} refused the login: ${explain(err)}`, { cause: err })
            : new MqGaveUpError(`Cannot connect to broker ${displayUrl}: gave up after ${max} attempts`, {
              cause: err,
            });
          this.#log.error(errorText(fatal));
          this.#closed.reject(fatal);
          return;
        }
        // Whole milliseconds, so the log says 0.3 s rather than 0.30000000000000004 s.
        const waitSecs = Math.round(Math.min(attempt * step, MAX_RECONNECT_DELAY_SECS) * 1000) / 1000;
        this.#log.warn(`Cannot connect to broker ${displayUrl}; retrying in ${waitSecs} s`, {
          attempt: this.#everUp ? `${attempt} (retrying until it is back)` : `${attempt}/${max}`,
          error: explain(err),
        });
        await delay(waitSecs * 1000, this.#stop.signal);
      }
    }
  }

  async #open(): Promise<void> {
    const opts = this.#opts;
    const url = withHeartbeat(opts.url.reveal(), opts.heartbeatSecs);
    const credentials = plainCredentials(url);
    const conn = await amqp.connect(url, {
      noDelay: true, // without it every lightly loaded message waits ~40 ms (Nagle)
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: opts.connectionName },
      ...(credentials ? { credentials } : {}),
      ...(opts.caPem ? { ca: [opts.caPem] } : {}),
    });
    if (!coalesceWrites(conn)) {
      this.#log.debug("amqplib's internals have changed: one socket write per frame");
    }
    if (!fastPublishFrames(conn)) {
      this.#log.debug("amqplib's internals have changed: publishes are encoded by amqplib");
    }
    conn.on("error", (err: Error) => this.#log.warn("Broker connection error", { error: explain(err) }));
    conn.on("close", (err?: Error) => this.#lost(conn, err));
    conn.on("blocked", (reason: string) => {
      this.#log.warn("Broker is blocking publishers", { reason });
      if (this.#conn === conn) this.#setBlocked(true); // not from an attempt that is never adopted
    });
    conn.on("unblocked", () => {
      this.#log.info("Broker unblocked publishers");
      if (this.#conn === conn) this.#setBlocked(false);
    });
    const role = opts.role ?? "both";
    try {
      await declareQueues(conn, opts.queues, opts.queueType ?? "classic");
      let pub: ConfirmChannel | null = null;
      let sub: Channel | null = null;
      if (role !== "consume") {
        pub = await conn.createConfirmChannel();
        this.#watchChannel(conn, pub, "publish");
        pub.on("return", (msg: ConsumeMessage) => {
          const id = msg.properties.messageId;
          if (typeof id === "string") this.#returned.add(id);
        });
        pub.on("drain", () => this.#wakeWriters());
      }
      if (role !== "publish") {
        sub = await conn.createChannel();
        this.#watchChannel(conn, sub, "consume");
        await sub.prefetch(opts.prefetch);
      }
      this.#conn = conn;
      this.#pub = pub;
      this.#sub = sub;
      this.#generation++;
      this.#returned.clear();
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
    await this.#reconcileConsumer();
  }

  /** A channel closing on its own (a protocol error) resets the whole connection. */
  #watchChannel(conn: ChannelModel, channel: Channel, role: string): void {
    channel.on("error", (err: Error) => {
      this.#log.warn(`Broker closed the ${role} channel`, { error: explain(err) });
      // A message over the broker's max_message_size closes the channel (406) every time it is sent.
      const max = /larger than configured max size (\d+)/.exec(errorText(err));
      if (max) this.#notify(this.#tooLargeListeners, Number(max[1]));
    });
    channel.on("close", () => {
      if (this.#conn === conn && !this.#closing) conn.close().catch(() => {});
    });
  }

  #lost(conn: ChannelModel, cause: unknown): void {
    if (this.#conn !== conn) return; // a connection we already replaced or never adopted
    this.#detach();
    if (this.#closing) return;
    this.#metrics.count(MQ_CONNECTIONS_LOST_TOTAL);
    this.#log.warn("Lost the broker connection; reconnecting", { error: cause ? explain(cause) : "closed" });
    this.#notify(this.#downListeners, cause);
    this.#connectLoop();
  }

  /** Calls each listener; one that throws is logged, never mistaken for a failed connection. */
  #notify<T>(listeners: Set<(arg: T) => void>, arg: T): void {
    for (const fn of listeners) {
      try {
        fn(arg);
      } catch (err) {
        this.#log.error("A broker connection listener failed", { error: errorText(err) });
      }
    }
  }

  #setBlocked(blocked: boolean): void {
    if (this.#blocked === blocked) return;
    this.#blocked = blocked;
    this.#notify(this.#blockedListeners, blocked);
  }

  #detach(): void {
    this.#conn = this.#pub = this.#sub = null;
    this.#consumingOn = -1;
    this.#wakeWriters();
    this.#setBlocked(false); // a new connection starts unblocked; the broker says again if not
  }

  #wakeWriters(): void {
    this.#writable = true;
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  /** Brings the broker-side consumer in line with `#consumer`, one operation at a time. */
  #reconcileConsumer(): Promise<void> {
    this.#consumerOp = this.#consumerOp.then(async () => {
      const sub = this.#sub;
      const generation = this.#generation;
      const consumer = this.#consumer;
      const active = this.#consumingOn === generation && sub !== null;
      if (!sub || this.#closing) return;
      if (consumer && !active) {
        this.#consumingOn = generation;
        this.#activeTag = consumer.tag;
        await sub.consume(consumer.queue, (msg: ConsumeMessage | null) => {
          if (msg === null) return this.#cancelledByBroker(consumer.queue);
          consumer.onDelivery({
            body: msg.content,
            contentType: msg.properties.contentType,
            tag: msg.fields.deliveryTag,
            generation,
            redelivered: msg.fields.redelivered,
          });
        }, { noAck: false, consumerTag: consumer.tag }).then(() => {
          this.#consumeConfirmed = generation;
        }, (err: unknown) => {
          this.#log.warn("Cannot start consuming", { queue: consumer.queue, error: explain(err) });
        });
      } else if (!consumer && active) {
        this.#consumingOn = -1;
        this.#consumeConfirmed = -1;
        if (this.#activeTag) await sub.cancel(this.#activeTag).catch(() => {});
      }
    });
    return this.#consumerOp;
  }

  #cancelledByBroker(queue: string): void {
    this.#consumeConfirmed = -1;
    this.#log.error(`The broker cancelled the consumer of queue "${queue}" (deleted?); reconnecting`);
    this.#conn?.close().catch(() => {});
  }
}
