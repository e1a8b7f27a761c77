/**
 * Broker -> WebSocket. Consumes `mq_qname_to_ws` while a WebSocket is open
 * (stops consuming while it is down, so there is no reject-redeliver loop)
 * and sends each message as a frame. `#settle` decides, in delivery order,
 * and every ack and nack goes out through `#answer`; a message is
 * acknowledged only when:
 *
 * 1. its frame is written to the API's TCP socket (the relay says so, as an
 *    event: `onWritten`),
 * 2. the connection then stayed open for `ackDelayMs`: a peer that closes or
 *    dies while frames are in flight makes us hand them back instead, and
 * 3. every message the WebSocket sent us up to that moment has been
 *    confirmed by the broker (the reply watermark), so a reply to this
 *    message (for a request/response API) is never lost if the bridge is
 *    killed. Waived while the broker blocks publishing (an alarm): to_ws
 *    keeps moving then, and a SIGKILL during the alarm loses the unconfirmed
 *    replies (the from_ws window) but not the requests' delivery.
 *
 * Otherwise the message goes back to the queue (nack + requeue) and is sent
 * again later: at-least-once, never lost. Frames wait (up to the prefetch)
 * while `maxBufferedBytes` of payload sent on the connection is not yet
 * written out, which bounds memory.
 *
 * In stub mode (-X) the connection is the stub's loopback (stub.ts): a
 * message counts as written once it is published to from_ws and confirmed.
 */
import type {
  AckHandle,
  ConsumeSource,
  Delivery,
  Logger,
  TimerHandle,
  Timers,
  WsConnection,
} from "./ports.ts";
import { within } from "../lib/async.ts";
import { systemTimers } from "../lib/clock.ts";
import type { ReplyWatermark } from "./from_ws.ts";
import { isText } from "./frames.ts";
import {
  type Metrics,
  TO_WS_REJECTED_TOTAL,
  TO_WS_REQUEUED_TOTAL,
  TO_WS_TOTAL,
  TO_WS_UNACKED,
} from "../lib/metrics.ts";
import { Queue } from "../lib/queue.ts";
import { bodyPreview } from "./body_preview.ts";

export type { ConsumeSource };

/** Which queue to consume and when a sent frame counts as delivered. */
export interface ToWsOptions {
  queue: string;
  consumerTag: string;
  ackDelayMs: number;
  maxBufferedBytes: number;
  /** Larger messages are rejected without requeue (to the queue's dead-letter exchange, if any). */
  maxMessageBytes: number;
  /** The DEBUG line for each message sent (default "Sent to WebSocket"). */
  sentLine?: string;
}

/** What the pump works with besides the broker. */
export interface ToWsDeps {
  log: Logger;
  metrics: Metrics;
  /** How far the from_ws direction is confirmed (rule 3); NO_REPLIES when there is no API (stub mode). */
  replies: ReplyWatermark;
  clock?: Timers;
}

interface Entry {
  handle: AckHandle;
  /** The message, until its frame is sent (then released: only the tag is needed to ack). */
  delivery: Delivery | null;
  state: "waiting" | "sent" | "ok" | "failed";
  /** sentBytes of the connection once this frame was handed to it. */
  end: number;
  /** When the frame was seen written out (-1 = not yet). */
  writtenAt: number;
  /** from_ws messages that must be confirmed first (-1 = not yet fixed). */
  needSeq: number;
}

/** Acknowledgements due within this much of each other go out together (fewer timers, fewer frames). */
const ACK_BATCH_MS = 5;

/** Moves to_ws messages to the WebSocket (or, in stub mode, to the from_ws queue). */
export class ToWsPump {
  readonly #mq: ConsumeSource;
  readonly #opts: ToWsOptions;
  readonly #replies: ReplyWatermark;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #clock: Timers;
  #entries = new Queue<Entry>(); // every unacknowledged delivery, in delivery order
  #waiting = new Queue<Entry>(); // received, not yet sent (too much not yet written out)
  #stamp = 0; // index in #entries of the first sent entry not yet seen written
  #conn: WsConnection | null = null;
  #stopping = false;
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  #needConfirm = false; // the front entry waits for the reply watermark
  #idleWaiters: (() => void)[] = [];

  constructor(mq: ConsumeSource, opts: ToWsOptions, deps: ToWsDeps) {
    this.#mq = mq;
    this.#opts = opts;
    this.#replies = deps.replies;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#clock = deps.clock ?? systemTimers;
    deps.replies.onChange(() => {
      if (this.#needConfirm) this.#settle();
    });
    deps.metrics.gauge(TO_WS_UNACKED, () => this.unacked);
  }

  /** Messages received from the broker and not yet acknowledged. */
  get unacked(): number {
    return this.#entries.length;
  }

  /** A WebSocket connection opened: start consuming into it. */
  attach(conn: WsConnection): void {
    this.#conn = conn;
    if (!this.#stopping) this.#consume();
  }

  /** The connection closed (or was given up): stop consuming, hand back everything not yet acknowledged. */
  detach(conn: WsConnection): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    this.#mq.stopConsumer();
    this.#handBack();
  }

  /** More of what was sent on `conn` is written out: note it, send what waits, acknowledge what is due. */
  onWritten(conn: WsConnection): void {
    if (conn !== this.#conn) return; // an earlier connection: its entries were handed back
    const written = conn.writtenBytes;
    const now = this.#clock.now();
    for (let e = this.#entries.at(this.#stamp); e?.state === "sent" && e.end <= written;) {
      e.writtenAt = now;
      e = this.#entries.at(++this.#stamp);
    }
    this.#fill(conn);
    this.#settle(now);
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
    this.#settle();
    if (this.#entries.length > 0) {
      await within(new Promise<void>((resolve) => this.#idleWaiters.push(resolve)), ms);
    }
    this.#handBack();
    this.#clock.clearTimeout(this.#timer);
  }

  #consume(): void {
    this.#mq.startConsumer(this.#opts.queue, this.#opts.consumerTag, (d) => this.#onDelivery(d));
  }

  #onDelivery(delivery: Delivery): void {
    const conn = this.#conn;
    if (this.#stopping || !conn?.isOpen) {
      // In flight while we were cancelling: straight back to the queue.
      this.#answer("requeue", delivery);
      return;
    }
    const connLimit = conn.maxMessageBytes ?? Infinity;
    if (delivery.body.length > Math.min(this.#opts.maxMessageBytes, connLimit)) {
      // Sending it would only make the API drop the connection (or the broker refuse it, in stub
      // mode), again after every redelivery.
      this.#answer("reject", delivery);
      const what = connLimit < this.#opts.maxMessageBytes
        ? "the broker's max_message_size"
        : "ws_max_message_bytes";
      this.#log.error(
        `Rejected a message larger than ${what} (dead-lettered if the queue has a dead-letter exchange, ` +
          "otherwise dropped)",
        {
          queue: this.#opts.queue,
          bytes: delivery.body.length,
          limit: Math.min(this.#opts.maxMessageBytes, connLimit),
        },
      );
      return;
    }
    const handle = { tag: delivery.tag, generation: delivery.generation };
    const entry: Entry = { handle, delivery, state: "waiting", end: 0, writtenAt: -1, needSeq: -1 };
    this.#entries.push(entry);
    const sendNow = this.#waiting.length === 0 && this.#backlog(conn) < this.#opts.maxBufferedBytes;
    if (!sendNow || !this.#send(entry, conn)) this.#waiting.push(entry); // never left outside both queues
  }

  /** Payload bytes sent on `conn` and not yet written out. */
  #backlog(conn: WsConnection): number {
    return conn.sentBytes - conn.writtenBytes;
  }

  /** Sends waiting frames while the backlog is under the limit. */
  #fill(conn: WsConnection): void {
    while (this.#waiting.length > 0 && this.#backlog(conn) < this.#opts.maxBufferedBytes) {
      if (!this.#send(this.#waiting.at(0)!, conn)) break;
      this.#waiting.shift();
    }
  }

  #send(entry: Entry, conn: WsConnection): boolean {
    const { body, contentType } = entry.delivery!;
    const text = isText(body, contentType);
    if (!conn.send(body, text)) return false;
    entry.end = conn.sentBytes;
    entry.state = "sent";
    entry.delivery = null;
    if (this.#log.debugEnabled) this.#debug(this.#opts.sentLine ?? "Sent to WebSocket", entry, body, text);
    return true;
  }

  /** `-d`: one line per message bridged, with the start of its body. */
  #debug(what: string, entry: Entry, body: Uint8Array, text: boolean): void {
    this.#log.debug(what, {
      queue: this.#opts.queue,
      tag: entry.handle.tag,
      bytes: body.length,
      text,
      body: bodyPreview(body, text),
    });
  }

  /**
   * The rule, in one place: marks written entries ok once their hold has
   * passed and the replies before them are confirmed, then acks the ok ones
   * at the front (one multiple ack) and requeues failed ones.
   */
  #settle(now = this.#clock.now()): void {
    this.#needConfirm = false;
    for (let i = 0, e; (e = this.#entries.at(i)) && e.state !== "waiting"; i++) {
      if (e.state !== "sent") continue;
      if (e.writtenAt < 0) break;
      const due = e.writtenAt + this.#opts.ackDelayMs;
      if (now < due) {
        this.#wakeAt(due, now);
        break;
      }
      if (e.needSeq < 0) e.needSeq = this.#replies.received;
      if (this.#replies.confirmed < e.needSeq && !this.#replies.stalled) {
        this.#needConfirm = true;
        break;
      }
      e.state = "ok";
    }
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
      if (last) this.#answer("ack", last.handle, acked);
      last = undefined;
      acked = 0;
      this.#answer("requeue", e.handle);
    }
    if (last) this.#answer("ack", last.handle, acked);
    if (this.#entries.length === 0) this.#wakeIdle();
  }

  /** Runs `#settle` at `due` (batched: never sooner than ACK_BATCH_MS from now). */
  #wakeAt(due: number, now: number): void {
    const at = Math.max(due, now + ACK_BATCH_MS);
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#settle();
    }, at - now);
  }

  /**
   * Every answer to the broker goes out here: "ack" acknowledges the `count` messages up to
   * `handle` (one multiple ack); "requeue" hands one back; "hand-back" hands back every message not
   * yet answered up to `handle` (`count` of them, one multiple nack); "reject" drops one without
   * requeue (to the queue's dead-letter exchange, if any).
   */
  #answer(kind: "ack" | "requeue" | "hand-back" | "reject", handle: AckHandle, count = 1): void {
    if (kind === "ack") {
      this.#mq.ack(handle, true);
      this.#metrics.count(TO_WS_TOTAL, count);
    } else if (kind === "requeue" || kind === "hand-back") {
      this.#mq.nack(handle, kind === "hand-back");
      this.#metrics.count(TO_WS_REQUEUED_TOTAL, count);
    } else {
      this.#mq.nack(handle, false, false);
      this.#metrics.count(TO_WS_REJECTED_TOTAL);
    }
  }

  /** Requeues everything not acknowledged, in one nack. */
  #handBack(): void {
    this.#settle();
    const rest = this.#entries.drain();
    this.#waiting.drain();
    this.#stamp = 0;
    const last = rest.at(-1);
    if (last) {
      this.#answer("hand-back", last.handle, rest.length);
      this.#log.info("Handed unacknowledged messages back to the queue", { count: rest.length });
    }
    this.#wakeIdle();
  }

  #wakeIdle(): void {
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}

/** The watermark of a to_ws direction with no API to answer (stub mode): nothing to wait for. */
export const NO_REPLIES: ReplyWatermark = {
  received: 0,
  confirmed: 0,
  stalled: false,
  onChange() {},
};
