/**
 * Broker -> WebSocket. Consumes `mq_qname_to_ws` while a WebSocket is open
 * (stops consuming while it is down, so there is no reject-redeliver loop)
 * and sends each message as a frame. All acknowledging happens in
 * `#ackPrefix`, in delivery order; a message is acknowledged only when:
 *
 * 1. its frame has left the bridge (the socket's bufferedAmount says so),
 * 2. the connection then stayed open for `ackDelayMs`: a peer that closes or
 *    dies while frames are in flight makes us hand them back instead, and
 * 3. every message the WebSocket sent us up to that moment has been
 *    confirmed by the broker, so a reply to this message (for a
 *    request/response API) is never lost if the bridge is killed.
 *
 * Otherwise the message goes back to the queue (nack + requeue) and is sent
 * again later: at-least-once, never lost. Frames wait (up to the prefetch)
 * while the socket has `maxBufferedBytes` unsent, which bounds memory.
 *
 * In stub mode (-X) each message is published to the from_ws queue instead
 * and acknowledged once the broker confirms it.
 */
import { Buffer } from "node:buffer";
import type { MqAckHandle, MqDelivery, MqSession } from "../handlers/mq.ts";
import type { WsConnection } from "../handlers/ws.ts";
import type { Logger } from "../handlers/logging.ts";
import { within } from "./async.ts";
import type { FromWsPublisher } from "./from_ws.ts";
import {
  type Metrics,
  TO_WS_REJECTED_TOTAL,
  TO_WS_REQUEUED_TOTAL,
  TO_WS_TOTAL,
  TO_WS_UNACKED,
} from "./metrics.ts";
import { Queue } from "./queue.ts";

/** The part of the broker session the pump uses. */
export type ConsumeSource = Pick<MqSession, "startConsumer" | "stopConsumer" | "ack" | "nack">;

/** Which queue to consume and when a sent frame counts as delivered. */
export interface ToWsOptions {
  queue: string;
  consumerTag: string;
  ackDelayMs: number;
  maxBufferedBytes: number;
  /** Larger messages are rejected without requeue (to the queue's dead-letter exchange, if any). */
  maxMessageBytes: number;
}

interface Entry {
  handle: MqAckHandle;
  /** The message, until its frame is sent (then released: only the tag is needed to ack). */
  delivery: MqDelivery | null;
  state: "waiting" | "sent" | "ok" | "failed";
  /** sentBytes of the connection once this frame was handed to it. */
  end: number;
  /** When bufferedAmount showed the frame had left (0 = not yet). */
  flushedAt: number;
  /** from_ws messages that must be confirmed first (-1 = not yet fixed). */
  needSeq: number;
}

const TEXT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Moves to_ws messages to the WebSocket (or, in stub mode, to the from_ws queue). */
export class ToWsPump {
  readonly #mq: ConsumeSource;
  readonly #opts: ToWsOptions;
  readonly #publisher: FromWsPublisher;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #tickMs: number;
  #entries = new Queue<Entry>(); // every unacknowledged delivery, in delivery order
  #waiting = new Queue<Entry>(); // received, not yet sent (send buffer full)
  #stamp = 0; // index in #entries of the first sent entry not yet seen flushed
  #conn: WsConnection | null = null;
  #stub = false;
  #stopping = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ackQueued = false;
  #lastFlushed = 0; // bytes the connection had flushed at the last tick
  #draining = false; // whether the socket flushed anything since the tick before
  #idleWaiters: (() => void)[] = [];

  constructor(
    mq: ConsumeSource,
    publisher: FromWsPublisher,
    opts: ToWsOptions,
    deps: { log: Logger; metrics: Metrics },
  ) {
    this.#mq = mq;
    this.#publisher = publisher;
    this.#opts = opts;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    // Frames are seen to leave, and acknowledged, on a tick: a fine one keeps the
    // hold close to ackDelayMs, and so the prefetch window free for new messages.
    this.#tickMs = Math.min(5, Math.max(1, opts.ackDelayMs / 20));
    deps.metrics.gauge(TO_WS_UNACKED, () => this.#entries.length);
  }

  /** A WebSocket connection opened: start consuming into it. */
  attach(conn: WsConnection): void {
    this.#conn = conn;
    if (!this.#stopping) this.#consume();
  }

  /** The connection closed: stop consuming, hand back everything not yet acknowledged. */
  detach(conn: WsConnection): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    this.#mq.stopConsumer();
    this.#tick();
    this.#handBack();
  }

  /** Stub mode: consume and republish to the from_ws queue. */
  startStub(): void {
    this.#stub = true;
    this.#consume();
  }

  /** The broker connection is gone: its deliveries will be redelivered, forget them. */
  onMqDown(): void {
    this.#entries.drain();
    this.#waiting.drain();
    this.#stamp = 0;
    this.#wakeIdle();
  }

  /** Stops consuming, lets sent messages settle for up to `ms`, hands back the rest. */
  async stop(ms: number): Promise<void> {
    this.#stopping = true;
    await this.#mq.stopConsumer();
    for (const entry of this.#waiting.drain()) entry.state = "failed";
    this.#ackPrefix();
    if (this.#entries.length > 0) {
      await within(new Promise<void>((resolve) => this.#idleWaiters.push(resolve)), ms);
    }
    this.#handBack();
    clearTimeout(this.#timer);
  }

  #consume(): void {
    this.#mq.startConsumer(this.#opts.queue, this.#opts.consumerTag, (d) => this.#onDelivery(d));
  }

  #onDelivery(delivery: MqDelivery): void {
    const conn = this.#conn;
    if (this.#stopping || (!this.#stub && !conn?.isOpen)) {
      // In flight while we were cancelling: straight back to the queue.
      this.#mq.nack(delivery);
      this.#metrics.count(TO_WS_REQUEUED_TOTAL);
      return;
    }
    if (!this.#stub && delivery.body.length > this.#opts.maxMessageBytes) {
      // Sending it would only make the API drop the connection, again after every redelivery.
      this.#mq.nack(delivery, false, false);
      this.#metrics.count(TO_WS_REJECTED_TOTAL);
      this.#log.error(
        "Rejected a message larger than ws_max_message_bytes (dead-lettered if the queue has a " +
          "dead-letter exchange, otherwise dropped)",
        { queue: this.#opts.queue, bytes: delivery.body.length, limit: this.#opts.maxMessageBytes },
      );
      return;
    }
    const handle = { tag: delivery.tag, generation: delivery.generation };
    const entry: Entry = { handle, delivery, state: "waiting", end: 0, flushedAt: 0, needSeq: -1 };
    this.#entries.push(entry);
    if (this.#stub) return this.#forward(entry);
    if (this.#waiting.length === 0 && conn!.bufferedAmount < this.#opts.maxBufferedBytes) {
      this.#send(entry, conn!);
    } else {
      this.#waiting.push(entry);
    }
    this.#arm();
  }

  #send(entry: Entry, conn: WsConnection): boolean {
    const { body, contentType } = entry.delivery!;
    const frame = asFrame(body, contentType);
    if (!conn.send(frame, body.length)) return false;
    entry.end = conn.sentBytes;
    entry.state = "sent";
    entry.delivery = null;
    if (this.#log.debugEnabled) {
      this.#log.debug("Sent to WebSocket", { bytes: body.length, text: typeof frame === "string" });
    }
    return true;
  }

  #forward(entry: Entry): void {
    const { body, contentType } = entry.delivery!;
    entry.state = "sent";
    entry.delivery = null;
    const type = typeof asFrame(body, contentType) === "string" ? "text/plain" : "application/octet-stream";
    this.#publisher.forward(body, type, (ok) => {
      entry.state = ok ? "ok" : "failed";
      if (!this.#ackQueued) {
        this.#ackQueued = true; // one ack for every confirm that arrived in this turn
        queueMicrotask(() => {
          this.#ackQueued = false;
          this.#ackPrefix();
        });
      }
    });
  }

  #arm(): void {
    if (this.#timer === undefined && this.#entries.length > 0) {
      // The socket has no "drained" event: while frames wait for room in its
      // send buffer and it is draining, look again at the next turn of the
      // timer loop (a stalled peer gets the normal tick).
      const ms = this.#waiting.length > 0 && this.#draining ? 1 : this.#tickMs;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#tick();
        this.#arm();
      }, ms);
    }
  }

  /** Sends what waits, notes which frames have left, marks settled ones ok, acknowledges. */
  #tick(): void {
    const conn = this.#conn;
    if (conn) {
      while (this.#waiting.length > 0 && conn.bufferedAmount < this.#opts.maxBufferedBytes) {
        if (!this.#send(this.#waiting.at(0)!, conn)) break;
        this.#waiting.shift();
      }
      const flushed = conn.sentBytes - conn.bufferedAmount;
      this.#draining = flushed > this.#lastFlushed;
      this.#lastFlushed = flushed;
      const now = performance.now();
      for (let e = this.#entries.at(this.#stamp); e?.state === "sent" && e.end <= flushed;) {
        e.flushedAt = now;
        e = this.#entries.at(++this.#stamp);
      }
      for (let i = 0, e; (e = this.#entries.at(i)) && e.state === "sent" && e.flushedAt > 0; i++) {
        if (now - e.flushedAt < this.#opts.ackDelayMs) break;
        if (e.needSeq < 0) e.needSeq = this.#publisher.received;
        if (this.#publisher.confirmed < e.needSeq) break;
        e.state = "ok";
      }
    }
    this.#ackPrefix();
  }

  /** The one place that acknowledges: ok entries at the front are acked, failed ones requeued. */
  #ackPrefix(): void {
    let last: Entry | undefined;
    let acked = 0;
    for (let e; (e = this.#entries.at(0)) && (e.state === "ok" || e.state === "failed");) {
      this.#entries.shift();
      this.#stamp = Math.max(0, this.#stamp - 1);
      if (e.state === "ok") {
        last = e;
        acked++;
        continue;
      }
      if (last) this.#mq.ack(last.handle, true);
      last = undefined;
      this.#mq.nack(e.handle);
      this.#metrics.count(TO_WS_REQUEUED_TOTAL);
    }
    if (last) this.#mq.ack(last.handle, true);
    if (acked > 0) this.#metrics.count(TO_WS_TOTAL, acked);
    if (this.#entries.length === 0) this.#wakeIdle();
  }

  /** Requeues everything not acknowledged, in one nack. */
  #handBack(): void {
    this.#ackPrefix();
    const rest = this.#entries.drain();
    this.#waiting.drain();
    this.#stamp = 0;
    const last = rest.at(-1);
    if (last) {
      this.#mq.nack(last.handle, true);
      this.#metrics.count(TO_WS_REQUEUED_TOTAL, rest.length);
      this.#log.info("Handed unacknowledged messages back to the queue", { count: rest.length });
    }
    this.#wakeIdle();
  }

  #wakeIdle(): void {
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}

/**
 * A text frame when the body is valid UTF-8, unless the content type says
 * binary (application/octet-stream); otherwise the raw bytes.
 */
export function asFrame(body: Buffer, contentType: string | undefined): string | Uint8Array {
  const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (contentType === "application/octet-stream") return bytes;
  try {
    return TEXT.decode(bytes);
  } catch {
    return bytes;
  }
}
