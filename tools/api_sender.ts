/**
 * The API stand-in's own messages (the from_ws direction of the chaos
 * suite): numbered bodies `<prefix><index> ` padded with dots, sent to the
 * connected bridge as a back-to-back burst or at a drift-free rate.
 *
 * The sender's word is what the API believes it sent: an index counts as
 * sent when `send()` was called on an OPEN socket, once. When the connection
 * drops, sending waits for the next one and goes on with the next unsent
 * index: nothing is sent twice and nothing skipped. It also waits while the
 * socket holds more than `HIGH_WATER` bytes not yet written: a real API's
 * sends block in TCP when the bridge stops reading, and without this the
 * stand-in would buffer gigabytes of 1 MiB frames in its own memory.
 */

/** Bytes the socket may hold unwritten before sending waits. */
const HIGH_WATER = 1_048_576;
/** The WebSocket API has no drain event: how often to look at bufferedAmount while it is high. */
const DRAIN_POLL_MS = 1;
/** Most messages sent in one turn of the event loop. */
const BATCH = 1000;

/** What to send. */
export interface SendPlan {
  prefix: string;
  count: number;
  bytes: number;
  /** Messages per second; 0 = back to back. */
  rate: number;
  /** First index to send (default 1): a restarted API goes on where the last one stopped. */
  from?: number;
}

/** Where the sender gets an open socket from. */
export interface SocketSource {
  /** The socket to send on now, if one is open. */
  current(): WebSocket | null;
  /** Resolves when a socket opens (or `signal` aborts). */
  opened(signal: AbortSignal): Promise<void>;
}

/** Sends one plan; `stop()` ends it after the message in hand. */
export class NumberedSender {
  readonly plan: Required<SendPlan>;
  /** Epoch ms of each index's send() (NaN: not sent). */
  readonly sentAt: Float64Array;
  sent = 0;
  /** The next index to send. */
  next: number;
  done = false;
  readonly finished: Promise<void>;
  readonly #stop = new AbortController();
  readonly #onProgress: () => void;
  readonly #pad: string;

  constructor(plan: SendPlan, source: SocketSource, onProgress: () => void) {
    this.plan = { from: 1, ...plan };
    this.sentAt = new Float64Array(plan.count + 1).fill(NaN);
    this.next = this.plan.from;
    this.#onProgress = onProgress;
    this.#pad = ".".repeat(plan.bytes);
    this.finished = this.#run(source).finally(() => {
      this.done = true;
      this.#onProgress();
    });
  }

  /** Stops sending; `finished` settles once the loop has let go. */
  stop(): Promise<void> {
    this.#stop.abort();
    return this.finished;
  }

  /** The body of message `index`. */
  body(index: number): string {
    const head = `${this.plan.prefix}${index} `;
    return head.length >= this.plan.bytes ? head : head + this.#pad.slice(head.length);
  }

  /** The sender's state, as the control endpoint reports it. */
  state(): Record<string, unknown> {
    const { prefix, count, bytes, rate, from } = this.plan;
    return { prefix, count, bytes, rate, from, next: this.next, sent: this.sent, done: this.done };
  }

  async #run(source: SocketSource): Promise<void> {
    const { count, rate, from } = this.plan;
    const signal = this.#stop.signal;
    const t0 = performance.now();
    const due = (index: number) => rate > 0 ? t0 + ((index - from) * 1000) / rate : -Infinity;
    while (this.next <= count && !signal.aborted) {
      const wait = due(this.next) - performance.now();
      if (wait > 0) {
        await pause(wait, signal);
        continue;
      }
      const socket = source.current();
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        await source.opened(signal);
        continue;
      }
      if (socket.bufferedAmount > HIGH_WATER) {
        await pause(DRAIN_POLL_MS, signal);
        continue;
      }
      // Everything due by now goes in this turn (a burst: all of it), until the socket holds
      // HIGH_WATER or BATCH went: timers nested this deep fire every 4 ms at best, so one send
      // per timer would cap the rate near 250 a second.
      const now = performance.now();
      for (let n = 0; n < BATCH && this.next <= count && due(this.next) <= now; n++) {
        socket.send(this.body(this.next));
        this.sentAt[this.next] = performance.timeOrigin + performance.now();
        this.sent++;
        this.next++;
        if (socket.bufferedAmount > HIGH_WATER) break;
      }
      this.#onProgress();
      await pause(0, signal); // let the socket write and the control endpoint answer
    }
  }
}

/** Waits `ms` (at most); resolves early when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
  });
}
