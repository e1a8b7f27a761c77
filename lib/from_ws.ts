/**
 * WebSocket -> broker. Each message received from the WebSocket is held
 * here, numbered in arrival order, until the broker confirms it; only then
 * does it count as bridged. Publishing is pipelined (up to `window`
 * unconfirmed at once), never one round trip per message.
 *
 * When the connection drops, every unconfirmed message goes back to waiting
 * and is published again, in order, after the reconnect (a message keeps its
 * message_id, so consumers can drop the rare duplicate). While the broker is
 * away, at most `limit` messages wait; beyond that new ones are dropped,
 * each one counted and logged, never silently.
 *
 * `confirmed` is a watermark: every message numbered up to it is settled.
 * The to_ws direction uses it to delay acknowledgements (see to_ws.ts).
 */
import { Buffer } from "node:buffer";
import type { MqSession } from "../handlers/mq.ts";
import { MqReturnedError } from "../handlers/mq.ts";
import { errorText, type Logger } from "../handlers/logging.ts";
import {
  FROM_WS_BUFFERED,
  FROM_WS_DROPPED_TOTAL,
  FROM_WS_PUBLISH_FAILURES_TOTAL,
  FROM_WS_RECEIVED_TOTAL,
  FROM_WS_TOTAL,
  type Metrics,
} from "./metrics.ts";

/** The part of the broker session the publisher uses. */
export type PublishTarget = Pick<
  MqSession,
  "up" | "generation" | "writable" | "publish" | "waitWritable" | "redeclare"
>;

/** Where and how to publish, and how much to hold. */
export interface PublisherOptions {
  queue: string;
  ttlMs: number;
  /** Most messages held (waiting or unconfirmed) before new ones are dropped. */
  limit: number;
  /** Most messages published and not yet confirmed. */
  window: number;
  /** Prefix of each message_id; unique to this process. */
  idPrefix: string;
}

interface Item {
  seq: number;
  body: Buffer;
  contentType: string;
  state: "waiting" | "inflight" | "done";
  generation: number;
  /** Set for stub-mode forwards: settled by callback, dropped (not retried) on a lost connection. */
  onSettled?: (ok: boolean) => void;
}

const RETRY_PAUSE_MS = 1_000;
const DROP_LOG_INTERVAL_MS = 5_000;

/** Publishes what the WebSocket sends, confirmed, in order, bounded. */
export class FromWsPublisher {
  readonly #mq: PublishTarget;
  readonly #opts: PublisherOptions;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #items = new Map<number, Item>();
  #last = 0; // highest seq assigned
  #confirmed = 0; // every seq <= this is done
  #next = 1; // lowest seq that may still need publishing
  #inflight = 0;
  #pumping = false;
  #waitingDrain = false;
  #pausedUntil = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #drainWaiters: (() => void)[] = [];
  #dropped = 0;
  #lastDropLog = 0;

  constructor(mq: PublishTarget, opts: PublisherOptions, deps: { log: Logger; metrics: Metrics }) {
    this.#mq = mq;
    this.#opts = opts;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    deps.metrics.gauge(FROM_WS_BUFFERED, () => this.buffered);
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

  /** Takes a message from the WebSocket; false if it was dropped because the buffer is full. */
  accept(body: Buffer, contentType: string): boolean {
    this.#metrics.count(FROM_WS_RECEIVED_TOTAL);
    if (this.buffered >= this.#opts.limit) {
      this.#drop();
      return false;
    }
    this.#add({ body, contentType });
    return true;
  }

  /** Stub mode: publishes a to_ws message, then calls `onSettled(ok)`; not buffered across reconnects. */
  forward(body: Buffer, contentType: string, onSettled: (ok: boolean) => void): void {
    this.#add({ body, contentType, onSettled });
  }

  /** Resolves once every message accepted so far is settled. */
  drained(): Promise<void> {
    if (this.buffered === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** The broker is back: publish what waits. */
  onMqUp(): void {
    this.#pausedUntil = 0;
    this.#pump();
  }

  /** The connection is gone: unconfirmed messages wait again (forwards are handed back). */
  onMqDown(): void {
    for (const item of this.#items.values()) {
      if (item.state === "done") continue;
      // A forward's delivery died with the connection; the broker redelivers it.
      if (item.onSettled) this.#finish(item, false);
      else item.state = "waiting";
    }
    this.#inflight = 0;
    this.#next = this.#confirmed + 1;
    this.#advance();
  }

  /** Stops the retry timer; held messages stay where they are. */
  dispose(): void {
    clearTimeout(this.#retryTimer);
  }

  #add(fields: Pick<Item, "body" | "contentType" | "onSettled">): void {
    const seq = ++this.#last;
    this.#items.set(seq, { seq, state: "waiting", generation: 0, ...fields });
    this.#pump();
  }

  #drop(): void {
    this.#dropped++;
    this.#metrics.count(FROM_WS_DROPPED_TOTAL);
    const now = Date.now();
    if (now - this.#lastDropLog < DROP_LOG_INTERVAL_MS) return;
    this.#lastDropLog = now;
    this.#log.error(
      `Dropped WebSocket messages: ${this.#opts.limit} already wait for the broker (mq_buffer_limit)`,
      { dropped_total: this.#dropped },
    );
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      const mq = this.#mq;
      if (this.#pausedUntil > 0 && Date.now() < this.#pausedUntil) return this.#retryLater();
      while (mq.up && mq.writable && this.#inflight < this.#opts.window && this.#next <= this.#last) {
        const item = this.#items.get(this.#next++);
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
    this.#inflight++;
    this.#mq.publish(this.#opts.queue, item.body, {
      contentType: item.contentType,
      expirationMs: this.#opts.ttlMs,
      messageId: this.#opts.idPrefix + item.seq,
    }).then(
      () => this.#settle(item, generation, null),
      (err: unknown) => this.#settle(item, generation, err),
    );
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
      this.#finish(item, true);
    } else if (current) {
      this.#inflight--;
      this.#metrics.count(FROM_WS_PUBLISH_FAILURES_TOTAL);
      this.#log.warn("Publish not confirmed; will retry", { queue: this.#opts.queue, error: errorText(err) });
      if (item.onSettled) {
        this.#finish(item, false);
      } else {
        item.state = "waiting";
        this.#next = Math.min(this.#next, item.seq);
      }
      // Retry after a pause, never in a tight loop against a failing channel.
      this.#pausedUntil = Date.now() + RETRY_PAUSE_MS;
      if (err instanceof MqReturnedError) this.#mq.redeclare().catch(() => {});
    }
    this.#advance();
    this.#pump();
  }

  #finish(item: Item, ok: boolean): void {
    item.state = "done";
    item.onSettled?.(ok);
  }

  #advance(): void {
    while (this.#items.get(this.#confirmed + 1)?.state === "done") {
      this.#items.delete(++this.#confirmed);
    }
    if (this.#next <= this.#confirmed) this.#next = this.#confirmed + 1;
    if (this.buffered === 0) { for (const wake of this.#drainWaiters.splice(0)) wake(); }
  }

  #retryLater(): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, Math.max(0, this.#pausedUntil - Date.now()));
  }
}
