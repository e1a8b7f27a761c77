/**
 * WebSocket -> broker. Each message received from the WebSocket is held
 * here, numbered in arrival order, until the broker confirms it; only then
 * does it count as bridged. Publishing is pipelined (up to `window`
 * unconfirmed at once), never one round trip per message.
 *
 * What is held is bounded in messages (`limit`, mq_buffer_limit) and bytes
 * (`limitBytes`, mq_buffer_bytes). At either bound the publisher asks for
 * backpressure (`onPressure(true)`: the WebSocket client stops reading, and
 * the API's sends block in TCP); at half of both it lets go. So nothing is
 * dropped whether the broker is slow, blocked by an alarm or reconnecting,
 * for as long as it takes. The one exception: a single message larger than
 * `limitBytes` is rejected, counted and logged.
 *
 * When the connection drops, every unconfirmed message goes back to waiting
 * and is published again, in order, after the reconnect (a message keeps its
 * message_id, so consumers can drop the rare duplicate).
 *
 * `confirmed` is a watermark: every message numbered up to it is settled.
 * The to_ws direction uses it to delay acknowledgements (see to_ws.ts).
 *
 * Each confirmed publish is timed, from the call to its confirm, on the
 * injected monotonic clock (`from_ws_confirm_seconds`); the time of the
 * latest publish rides on the message's own entry, so nothing is allocated.
 */
import type { Logger, PublishError, PublishTarget, TimerHandle, Timers } from "./ports.ts";
import { errorText } from "../lib/log.ts";
import { systemTimers } from "../lib/clock.ts";
import { EventSummary } from "../lib/event_summary.ts";
import { bodyPreview } from "./body_preview.ts";
import { Queue } from "../lib/queue.ts";
import {
  FROM_WS_BUFFERED,
  FROM_WS_BUFFERED_BYTES,
  FROM_WS_CONFIRM_SECONDS,
  FROM_WS_DROPPED_TOTAL,
  FROM_WS_PUBLISH_FAILURES_TOTAL,
  FROM_WS_RECEIVED_TOTAL,
  FROM_WS_TOTAL,
  type Metrics,
  WS_READ_PAUSES_TOTAL,
} from "../lib/metrics.ts";

export type { PublishTarget };

/** What to_ws needs of this direction: how far the broker has confirmed what the WebSocket sent. */
export interface ReplyWatermark {
  /** Number of the last message taken from the WebSocket. */
  readonly received: number;
  /** Every message numbered up to this one is settled. */
  readonly confirmed: number;
  /**
   * True while the broker blocks publishing (a memory or disk alarm): confirms will not come
   * until it ends, and to_ws must not wait for them (see to_ws.ts, rule 3).
   */
  readonly stalled: boolean;
  /** Calls `fn` whenever `confirmed` moves on or `stalled` changes. */
  onChange(fn: () => void): void;
}

/** Where and how to publish, and how much to hold. */
export interface PublisherOptions {
  queue: string;
  ttlMs: number;
  /** Most messages held (waiting or unconfirmed) before reading pauses. */
  limit: number;
  /** Most bytes held before reading pauses; a larger single message is rejected. */
  limitBytes: number;
  /** Most messages published and not yet confirmed. */
  window: number;
  /** Prefix of each message_id; unique to this process. */
  idPrefix: string;
}

/** What the publisher works with besides the broker. */
export interface PublisherDeps {
  log: Logger;
  metrics: Metrics;
  clock?: Timers;
  /** Seconds between two summary lines of repeated events (failures, rejections). */
  summarySecs?: number;
}

interface Item {
  seq: number;
  body: Uint8Array;
  contentType: string;
  state: "waiting" | "inflight" | "done";
  generation: number;
  /** `clock.now()` at the latest publish, for the confirm round trip. */
  publishedAt: number;
  /** Set for stub-mode forwards: settled by callback, dropped (not retried) on a lost connection. */
  onSettled?: (ok: boolean) => void;
}

const RETRY_PAUSE_MS = 1_000;
const SUMMARY_SECS = 10;

/** Publishes what the WebSocket sends, confirmed, in order, bounded. */
export class FromWsPublisher implements ReplyWatermark {
  readonly #mq: PublishTarget;
  readonly #opts: PublisherOptions;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #clock: Timers;
  /** Every message not yet settled, or settled behind one that is not: seq `confirmed + 1 + i` at `i`. */
  readonly #items = new Queue<Item>();
  #last = 0; // highest seq assigned
  #confirmed = 0; // every seq <= this is done
  #next = 1; // lowest seq that may still need publishing
  #inflight = 0;
  #bytes = 0; // body bytes of the items not yet done
  #pumping = false;
  #waitingDrain = false;
  #pausedUntil = 0;
  #retryTimer: TimerHandle | undefined;
  #drainWaiters: (() => void)[] = [];
  #confirmListeners: (() => void)[] = [];
  #pressure = false;
  #onPressure: (paused: boolean) => void = () => {};
  readonly #failures: EventSummary<{ error: string }>;
  readonly #rejections: EventSummary<{ bytes: number; limit: string }>;
  /** The broker's max_message_size, once it refused a message for it (else Infinity). */
  #brokerMax = Infinity;
  #disposed = false; // shutting down: what fails now is reported as lost, not retried

  constructor(mq: PublishTarget, opts: PublisherOptions, deps: PublisherDeps) {
    this.#mq = mq;
    this.#opts = opts;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#clock = deps.clock ?? systemTimers;
    const log = deps.log;
    const intervalMs = (deps.summarySecs ?? SUMMARY_SECS) * 1000;
    this.#failures = new EventSummary(
      ({ error }, n, spanMs) => {
        log.warn("Publishes not confirmed by the broker; retrying them", {
          queue: opts.queue,
          count: n,
          ...span(spanMs),
          error,
        });
      },
      intervalMs,
      this.#clock,
    );
    this.#rejections = new EventSummary(
      ({ bytes, limit }, n, spanMs) => {
        log.error(`Rejected WebSocket messages larger than ${limit} (dropped)`, {
          count: n,
          ...span(spanMs),
          bytes,
          limit: limit === "mq_buffer_bytes" ? opts.limitBytes : this.#brokerMax,
          dropped_total: this.#rejections.total,
        });
      },
      intervalMs,
      this.#clock,
    );
    deps.metrics.gauge(FROM_WS_BUFFERED, () => this.buffered);
    deps.metrics.gauge(FROM_WS_BUFFERED_BYTES, () => this.#bytes);
  }

  /** Number of the last message accepted. */
  get received(): number {
    return this.#last;
  }

  /** Every message numbered up to this one is confirmed (or given up, for forwards). */
  get confirmed(): number {
    return this.#confirmed;
  }

  /** Messages waiting or unconfirmed. */
  get buffered(): number {
    return this.#last - this.#confirmed;
  }

  /** Body bytes of the messages waiting or unconfirmed. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  get stalled(): boolean {
    return this.#mq.blocked;
  }

  onChange(fn: () => void): void {
    this.#confirmListeners.push(fn);
  }

  /** The broker started or stopped blocking publishes. */
  onMqBlocked(): void {
    for (const fn of this.#confirmListeners) fn();
  }

  /** Calls `fn(true)` when reading from the WebSocket must pause, `fn(false)` when it may go on. */
  onPressure(fn: (paused: boolean) => void): void {
    this.#onPressure = fn;
  }

  /** Takes a message from the WebSocket; false if it was rejected (larger than limitBytes). */
  accept(body: Uint8Array, contentType: string): boolean {
    this.#metrics.count(FROM_WS_RECEIVED_TOTAL);
    if (body.length > this.#opts.limitBytes || body.length > this.#brokerMax) {
      this.#metrics.count(FROM_WS_DROPPED_TOTAL);
      const limit = body.length > this.#opts.limitBytes ? "mq_buffer_bytes" : "the broker's max_message_size";
      this.#rejections.note({ bytes: body.length, limit });
      return false;
    }
    this.#add({ body, contentType });
    if (this.#log.debugEnabled) {
      const text = contentType === "text/plain";
      this.#log.debug("Received from WebSocket", {
        queue: this.#opts.queue,
        message_id: this.#opts.idPrefix + this.#last,
        bytes: body.length,
        text,
        body: bodyPreview(body, text),
      });
    }
    return true;
  }

  /** Stub mode: publishes a to_ws message, then calls `onSettled(ok)`; not buffered across reconnects. */
  forward(body: Uint8Array, contentType: string, onSettled: (ok: boolean) => void): void {
    this.#add({ body, contentType, onSettled });
  }

  /** The broker's max_message_size, once it has refused a message for it (Infinity until then). */
  get brokerMaxBytes(): number {
    return this.#brokerMax;
  }

  /** Resolves once every message accepted so far is settled. */
  drained(): Promise<void> {
    if (this.buffered === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * The broker refused a message as larger than its max_message_size (`maxBytes`): it would refuse
   * it again on every attempt and hold up everything behind it, so every held message that large
   * is dropped, counted and logged, and so is any that arrives later.
   */
  onBrokerMaxSize(maxBytes: number): void {
    this.#brokerMax = Math.min(this.#brokerMax, maxBytes);
    for (let i = 0, item; (item = this.#items.at(i)); i++) {
      if (item.state === "done" || item.body.length <= maxBytes) continue;
      if (item.state === "inflight") this.#inflight--;
      this.#metrics.count(FROM_WS_DROPPED_TOTAL);
      this.#rejections.note({ bytes: item.body.length, limit: "the broker's max_message_size" });
      this.#finish(item, false);
    }
    this.#advance();
    this.#pump();
  }

  /** The broker is back: publish what waits. */
  onMqUp(): void {
    this.#pausedUntil = 0;
    this.#pump();
  }

  /** The connection is gone: unconfirmed messages wait again (forwards are handed back). */
  onMqDown(): void {
    for (let i = 0, item; (item = this.#items.at(i)); i++) {
      if (item.state === "done") continue;
      // A forward's delivery died with the connection; the broker redelivers it.
      if (item.onSettled) this.#finish(item, false);
      else item.state = "waiting";
    }
    this.#inflight = 0;
    this.#next = this.#confirmed + 1;
    this.#advance();
  }

  /** Stops the timers and writes what the summaries hold; held messages stay where they are. */
  dispose(): void {
    this.#disposed = true;
    this.#clock.clearTimeout(this.#retryTimer);
    this.#failures.flush();
    this.#rejections.flush();
  }

  #add(fields: Pick<Item, "body" | "contentType" | "onSettled">): void {
    const seq = ++this.#last;
    const item: Item = {
      seq,
      body: fields.body,
      contentType: fields.contentType,
      state: "waiting",
      generation: 0,
      publishedAt: 0,
    };
    if (fields.onSettled) item.onSettled = fields.onSettled;
    this.#items.push(item);
    this.#bytes += fields.body.length;
    if (!this.#pressure && (this.buffered >= this.#opts.limit || this.#bytes >= this.#opts.limitBytes)) {
      this.#pressure = true;
      this.#metrics.count(WS_READ_PAUSES_TOTAL);
      this.#onPressure(true);
    }
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping || this.#disposed) return;
    this.#pumping = true;
    try {
      const mq = this.#mq;
      if (this.#pausedUntil > 0) {
        if (this.#clock.now() < this.#pausedUntil) return this.#retryLater();
        this.#pausedUntil = 0; // past: no clock read on every later pump
      }
      while (mq.up && mq.writable && this.#inflight < this.#opts.window && this.#next <= this.#last) {
        const item = this.#items.at(this.#next++ - this.#confirmed - 1);
        if (item?.state === "waiting") this.#publish(item);
      }
      if (mq.up && !mq.writable && !this.#waitingDrain) {
        this.#waitingDrain = true;
        mq.waitWritable().then(() => {
          this.#waitingDrain = false;
          this.#pump();
        });
      }
    } finally {
      this.#pumping = false;
    }
  }

  #publish(item: Item): void {
    const generation = this.#mq.generation;
    item.state = "inflight";
    item.generation = generation;
    item.publishedAt = this.#clock.now();
    this.#inflight++;
    this.#mq.publishConfirmed(this.#opts.queue, item.body, {
      contentType: item.contentType,
      expirationMs: this.#opts.ttlMs,
      messageId: this.#opts.idPrefix + item.seq,
    }, (err) => this.#settle(item, generation, err));
  }

  #settle(item: Item, generation: number, err: unknown): void {
    const current = item.state === "inflight" && item.generation === generation;
    if (err === null) {
      // A confirm can land in the same turn as the connection loss that reset the
      // item to waiting: it still counts, and saves a duplicate. Once republished,
      // the new publish's own confirm settles it.
      if (!current && item.state !== "waiting") return;
      if (current) this.#inflight--;
      this.#metrics.count(FROM_WS_TOTAL);
      this.#metrics.observe(FROM_WS_CONFIRM_SECONDS, (this.#clock.now() - item.publishedAt) / 1000);
      this.#finish(item, true);
    } else if (current && !this.#disposed) {
      this.#inflight--;
      this.#metrics.count(FROM_WS_PUBLISH_FAILURES_TOTAL);
      this.#failures.note({ error: errorText(err) });
      if (item.onSettled) {
        this.#finish(item, false);
      } else {
        item.state = "waiting";
        this.#next = Math.min(this.#next, item.seq);
      }
      // Retry after a pause, never in a tight loop against a failing channel.
      this.#pausedUntil = this.#clock.now() + RETRY_PAUSE_MS;
      if ((err as PublishError).unroutable) this.#mq.redeclare().catch(() => {});
    }
    this.#advance();
    this.#pump();
  }

  #finish(item: Item, ok: boolean): void {
    item.state = "done";
    item.onSettled?.(ok);
  }

  #advance(): void {
    const before = this.#confirmed;
    for (let item = this.#items.at(0); item?.state === "done"; item = this.#items.at(0)) {
      this.#items.shift();
      this.#confirmed++;
      this.#bytes -= item.body.length;
    }
    if (this.#next <= this.#confirmed) this.#next = this.#confirmed + 1;
    if (this.#confirmed === before) return;
    const { limit, limitBytes } = this.#opts;
    if (this.#pressure && this.buffered <= limit / 2 && this.#bytes <= limitBytes / 2) {
      this.#pressure = false;
      this.#onPressure(false);
    }
    for (const fn of this.#confirmListeners) fn();
    if (this.buffered === 0) { for (const wake of this.#drainWaiters.splice(0)) wake(); }
  }

  #retryLater(): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, Math.max(0, this.#pausedUntil - this.#clock.now()));
  }
}

/** The span of a summary line, in seconds; absent for the first event of a spell. */
function span(ms: number): { in_last_secs?: number } {
  return ms > 0 ? { in_last_secs: Math.round(ms / 100) / 10 } : {};
}
