/**
 * The chaos suite's load: bridgetester's way of working (numbered messages
 * to the to_ws queue at a drift-free rate, publishes pipelined with up to
 * 1000 awaiting confirmation, the from_ws queue consumed and reconciled), run
 * in-process so a scenario can await counts as events while faults happen.
 *
 * Unlike bridgetester it keeps, per message, the monotonic time it was sent,
 * the time its first copy came back and how many copies came back, in typed
 * arrays (linear in N, so the soak's million messages stay cheap): from those
 * come "lost", "duplicates" and "time to recover".
 *
 * The from_ws queue also carries what the WebSocket API sends of its own
 * accord (the API stand-in, tools/api_server.ts, numbers its bodies with
 * another prefix): those are counted in a second tally, `fromApi`, whose
 * send times come from the API at the end.
 *
 * The load declares no queue: the harness made them, possibly of a type
 * (quorum) that a classic declaration would be refused on.
 */
import { Buffer } from "node:buffer";
import { type MqDelivery, MqSession } from "../handlers/mq/session.ts";
import { createLogger, type LogSink } from "../lib/log.ts";
import { delay } from "../lib/async.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { Secret } from "../lib/secret.ts";
import { Tally } from "./tally.ts";

/** What to send, where, how fast. */
export interface LoadOptions {
  url: string;
  toWs: string;
  fromWs: string;
  count: number;
  /** Messages per second; 0 = as fast as the confirm window allows. */
  ratePerSec: number;
  /** The first this many go as fast as the confirm window allows, the rest at the rate (a backlog). */
  burst?: number;
  /** Size of each body (the numbered text, padded with dots). */
  bodyBytes: number;
  /** Sending waits while this many are sent but not back (default: no limit). */
  maxOutstanding?: number;
  /** Broker warnings of the load's own connection (default: ignored). */
  log?: LogSink;
  /** Bodies the API stand-in sends start with this (default: none are expected). */
  apiPrefix?: string;
  /** The most messages the API stand-in sends. */
  apiCount?: number;
  /** The load's own reconnect policy (default 5 attempts, 0.5 s steps): a long outage needs more. */
  maxConnectAttempts?: number;
  reconnectDelaySecs?: number;
}

/** Most publishes awaiting the broker's confirmation at once, as bridgetester. */
const WINDOW = 1000;
const TTL_MS = 300_000;

/** A running load; `finish()` (or dispose) stops it and closes its connection. */
export class Load implements AsyncDisposable {
  readonly tally: Tally;
  /** What came back of the API stand-in's own messages (any index; send times filled in later). */
  readonly fromApi: Tally | null;
  /** Publishes sent again after the load's own connection dropped. */
  republished = 0;
  readonly #opts: LoadOptions;
  readonly #mq: MqSession;
  readonly #runId = crypto.randomUUID().slice(0, 8);
  readonly #stop = new AbortController();
  #inflight = 0;
  #retries: number[] = [];
  #wake: (() => void) | null = null;
  #waiters: { test: () => boolean; resolve: () => void }[] = [];
  #finished: Promise<void> | null = null;
  #sending: Promise<void> = Promise.resolve();

  private constructor(opts: LoadOptions, mq: MqSession) {
    this.#opts = opts;
    this.#mq = mq;
    this.tally = new Tally(opts.count, `chaos ${this.#runId} #`);
    this.fromApi = opts.apiPrefix === undefined
      ? null
      : new Tally(opts.apiCount ?? 0, opts.apiPrefix, { anyIndex: true });
    mq.onUp(() => this.#onUp());
  }

  /** Connects, starts consuming from_ws, then starts sending. */
  static async start(opts: LoadOptions): Promise<Load> {
    const sink = opts.log ?? { write() {}, flush: () => Promise.resolve() };
    const mq = new MqSession({
      url: new Secret(opts.url),
      displayUrl: "chaos load",
      queues: [],
      prefetch: WINDOW,
      heartbeatSecs: 30,
      maxConnectAttempts: opts.maxConnectAttempts ?? 5,
      reconnectDelaySecs: opts.reconnectDelaySecs ?? 0.5,
      connectionName: `chaos-load-${crypto.randomUUID()}`,
    }, { log: createLogger({ sink, info: false, debug: false }, "load"), metrics: new MetricsRegistry() });
    const load = new Load(opts, mq);
    try {
      await mq.start();
      await mq.startConsumer(opts.fromWs, `chaos-load-${load.#runId}`, (d) => load.#onDelivery(d));
    } catch (err) {
      await mq.close();
      throw err;
    }
    load.#sending = load.#sendAll();
    return load;
  }

  /** Settles when every message has been published (or sending was stopped). */
  get sending(): Promise<void> {
    return this.#sending;
  }

  /** Monotonic milliseconds, the clock every recorded time uses. */
  now(): number {
    return performance.now();
  }

  /** Resolves once `test()` holds (checked after every send and receipt); rejects after `ms`. */
  until(test: () => boolean, ms: number, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      const t = this.tally;
      reject(new Error(`Cannot see ${what} within ${ms} ms (sent ${t.sent}, back ${t.distinct})`));
    }, ms);
    const waiter = { test, resolve: () => (clearTimeout(timer), resolve()) };
    this.#waiters.push(waiter);
    return promise;
  }

  /** Resolves once `n` messages have been sent. */
  sent(n: number, ms = 60_000): Promise<void> {
    return this.until(() => this.tally.sent >= n, ms, `${n} messages sent`);
  }

  /** Resolves once a message sent at or after `t` has come back; rejects if none was sent after `t`. */
  async backSentAfter(t: number, ms = 30_000): Promise<void> {
    let doneSending = false;
    this.#sending.then(() => (doneSending = true, this.#check()));
    await this.until(
      () => this.tally.lastBackSentAt >= t || (doneSending && this.tally.lastSentAt < t),
      ms,
      "a message sent after the fault come back",
    );
    if (this.tally.lastBackSentAt < t) {
      throw new Error("Cannot measure the recovery: the fault came after the last message was sent");
    }
  }

  /** Resolves true once every sent message came back, false if `ms` pass first. */
  async allBack(ms: number): Promise<boolean> {
    await this.sending;
    return await this.until(() => this.tally.distinct >= this.tally.sent, ms, "every message back")
      .then(() => true, () => false);
  }

  /** Resolves true once the last message sent came back (what was lost stays lost), false after `ms`. */
  async lastBack(ms: number): Promise<boolean> {
    await this.sending;
    const last = this.tally.sent;
    return await this.until(() => last === 0 || this.tally.copies[last]! > 0, ms, "the last message back")
      .then(() => true, () => false);
  }

  /** Stops sending; what was sent is still received. */
  stopSending(): void {
    this.#stop.abort();
    this.#kick();
  }

  /** Stops sending and consuming and closes the connection. Safe to call twice. */
  finish(): Promise<void> {
    return this.#finished ??= (async () => {
      this.stopSending();
      await this.sending;
      if (this.#mq.up) await this.#mq.stopConsumer().catch(() => {});
      await this.#mq.close();
    })();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.finish();
  }

  async #sendAll(): Promise<void> {
    const { count, ratePerSec, burst = 0 } = this.#opts;
    const limit = this.#opts.maxOutstanding ?? Infinity;
    const signal = this.#stop.signal;
    let t0 = this.now();
    for (let i = 1; i <= count && !signal.aborted; i++) {
      if (i === burst + 1) t0 = this.now();
      if (ratePerSec > 0 && i > burst) {
        await delay(t0 + ((i - burst - 1) * 1000) / ratePerSec - this.now(), signal);
      }
      while (
        !signal.aborted &&
        (this.#inflight >= WINDOW || !this.#mq.up || this.tally.sent - this.tally.distinct >= limit)
      ) {
        await new Promise<void>((resolve) => this.#wake = resolve);
      }
      if (!this.#mq.writable) await this.#mq.waitWritable();
      if (signal.aborted) break;
      this.tally.recordSent(i, this.now());
      this.#publish(i);
      this.#check();
    }
  }

  #publish(index: number): void {
    this.#inflight++;
    const body = Buffer.from(this.tally.body(index, this.#opts.bodyBytes), "latin1");
    this.#mq.publish(this.#opts.toWs, body, { contentType: "text/plain", expirationMs: TTL_MS })
      .catch(() => void this.#retries.push(index)) // our own connection dropped: sent again on the next
      .finally(() => {
        this.#inflight--;
        this.#kick();
      });
  }

  #onUp(): void {
    for (const index of this.#retries.splice(0)) {
      this.republished++;
      this.#publish(index);
    }
    this.#kick();
  }

  /** Counts a body taken off from_ws (by its first 64 characters) in the tally it belongs to. */
  receive(head: string, at = this.now()): void {
    if (this.fromApi?.owns(head)) this.fromApi.receive(head, at);
    else this.tally.receive(head, at);
  }

  #onDelivery(d: MqDelivery): void {
    this.#mq.ack(d);
    this.receive(d.body.toString("latin1", 0, 64));
    this.#kick();
    this.#check();
  }

  #kick(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #check(): void {
    if (this.#waiters.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => !(w.test() && (w.resolve(), true)));
  }
}
