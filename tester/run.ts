/**
 * One bridgetester run: consume the from_ws queue, send N test messages to
 * the to_ws queue, reconcile what comes back, wait up to the end delay for
 * stragglers, then stop. Shown through a `TesterView`; measured in a
 * `Reconciler`.
 *
 * Sending is pipelined: publishes are not awaited one by one; up to
 * `PUBLISH_WINDOW` wait for the broker's confirmation at once, and the
 * socket's back-pressure is respected. With a delay, message i goes out at
 * start + (i-1) x delay (drift-free: a slow send does not push the rest back).
 * A publish lost to a dropped connection is sent again once the session has
 * reconnected (same body, so a copy that did arrive counts as a duplicate);
 * one the broker refused on a live connection is not (it shows as unconfirmed).
 *
 * Receiving: ours are acknowledged and reconciled; others are consumed with
 * `-x`, otherwise handed back through a `RejectPacer` (see there for why).
 */
import { Buffer } from "node:buffer";
import type { MqDelivery, MqSession } from "../handlers/mq/session.ts";
import { delay } from "../lib/async.ts";
import type { Clock } from "../lib/clock.ts";
import { padBody, Reconciler, testBody, unpadBody } from "./reconcile.ts";
import { RejectPacer } from "./reject_pacer.ts";
import type { RunResult } from "./summary.ts";
import type { ForeignCounts, Phase, RunState, TesterView } from "./views/view.ts";

/** The part of the broker session a run uses. */
export type TesterMq = Pick<
  MqSession,
  | "start"
  | "publish"
  | "waitWritable"
  | "writable"
  | "up"
  | "onUp"
  | "closed"
  | "startConsumer"
  | "stopConsumer"
  | "ack"
  | "nack"
>;

/** What to send, where, and how long to wait. */
export interface TesterRunOptions {
  count: number;
  delayMs: number;
  endDelayMs: number;
  exclusive: boolean;
  toWs: string;
  fromWs: string;
  /** Shown in headings; never carries a password. */
  brokerUrl: string;
  consumerTag: string;
  /** Goes into each body, so concurrent testers tell their messages apart. */
  pid: number;
  /** Prefetch of the consuming channel: when every slot holds a foreign message, ours are starved. */
  prefetch: number;
  /** `--size`: pad every body to this many bytes (null: the natural size). */
  size: number | null;
}

/** Everything a run works with. */
export interface TesterRunDeps {
  mq: TesterMq;
  view: TesterView;
  clock: Clock;
  /** Aborting stops the run early (Ctrl-C); the result says `interrupted`. */
  signal: AbortSignal;
}

/** Time-to-live of each test message on the to_ws queue, as the original set it. */
export const TEST_MESSAGE_TTL_MS = 300_000;
/** Most publishes awaiting the broker's confirmation at once. */
export const PUBLISH_WINDOW = 1000;
/** How long the end of a run waits for confirmations still on their way. */
const CONFIRM_GRACE_MS = 2000;

/** Runs the test; resolves with what was measured. Rejects if the broker session fails for good. */
export async function runTester(opts: TesterRunOptions, deps: TesterRunDeps): Promise<RunResult> {
  return await new TesterRun(opts, deps).run();
}

class TesterRun implements RunState {
  readonly reconciler: Reconciler;
  readonly clock: Clock;
  readonly foreign: ForeignCounts = { deliveries: 0, rejected: 0, consumed: 0, held: 0 };
  readonly toWs: string;
  readonly fromWs: string;
  readonly brokerUrl: string;
  phase: Phase = "connecting";
  startedAt = NaN;
  waitUntil = NaN;
  readonly #opts: TesterRunOptions;
  readonly #mq: TesterMq;
  readonly #view: TesterView;
  readonly #signal: AbortSignal;
  readonly #pacer: RejectPacer;
  readonly #stopped = Promise.withResolvers<void>();
  #receiving = true;
  #lastSentAt = NaN;
  #lastReceivedAt = NaN;
  #confirmed = 0;
  #republished = 0;
  #inFlight = 0;
  #slotFreed: (() => void) | null = null;
  #retries: number[] = [];
  #settleWaiters: (() => void)[] = [];
  #upWaiters: (() => void)[] = [];
  #warnedStarved = false;

  constructor(opts: TesterRunOptions, deps: TesterRunDeps) {
    this.#opts = opts;
    this.#mq = deps.mq;
    this.#view = deps.view;
    this.#signal = deps.signal;
    this.clock = deps.clock;
    this.reconciler = new Reconciler(opts.count);
    this.toWs = opts.toWs;
    this.fromWs = opts.fromWs;
    this.brokerUrl = opts.brokerUrl;
    this.#pacer = new RejectPacer({ release: (handle) => this.#mq.nack(handle, false, true) });
  }

  async run(): Promise<RunResult> {
    const onAbort = () => this.#stopped.resolve();
    this.#signal.addEventListener("abort", onAbort, { once: true });
    if (this.#signal.aborted) onAbort();
    const ticker = setInterval(() => this.#view.tick(), 1000);
    this.#mq.onUp(() => this.#onUp());
    this.#view.begin(this);
    try {
      await this.#race(this.#mq.start());
      await this.#race(
        this.#mq.startConsumer(this.#opts.fromWs, this.#opts.consumerTag, (d) => this.#onDelivery(d)),
      );
      if (!this.#signal.aborted) await this.#sendAll();
      if (!this.#signal.aborted) await this.#awaitStragglers();
      await this.#race(this.#confirmsSettled(CONFIRM_GRACE_MS)); // a reply can overtake its confirm
      const endedAt = this.clock.now();
      this.#setPhase(this.#signal.aborted ? "interrupted" : "done");
      await this.#stopReceiving();
      return this.#result(endedAt);
    } finally {
      clearInterval(ticker);
      this.#signal.removeEventListener("abort", onAbort);
      await this.#stopReceiving();
    }
  }

  /** Stops consuming, then hands back what is held (after the cancel, so not to us). Idempotent. */
  async #stopReceiving(): Promise<void> {
    if (!this.#receiving) return;
    this.#receiving = false;
    for (const wake of this.#upWaiters.splice(0)) wake();
    this.#slotFreed?.();
    if (this.#mq.up) await this.#mq.stopConsumer().catch(() => {});
    this.#pacer.releaseAll();
    this.foreign.rejected = this.#pacer.rejections;
    this.foreign.held = 0;
  }

  /** Resolves with `work`, or early when the run is stopped; rejects when the session fails for good. */
  async #race(work: Promise<unknown>): Promise<void> {
    await Promise.race([work, this.#stopped.promise, this.#mq.closed.then(() => {})]);
  }

  async #sendAll(): Promise<void> {
    const { count, delayMs } = this.#opts;
    this.#setPhase("sending");
    const t0 = this.clock.now();
    for (let i = 1; i <= count && !this.#signal.aborted; i++) {
      if (delayMs > 0 && i > 1) {
        const due = t0 + (i - 1) * delayMs;
        const wait = due - this.clock.now();
        if (wait > 0) await delay(wait, this.#signal);
      }
      while (!this.#signal.aborted && (this.#inFlight >= PUBLISH_WINDOW || !this.#mq.writable)) {
        await this.#race(
          this.#inFlight >= PUBLISH_WINDOW
            ? new Promise<void>((resolve) => this.#slotFreed = resolve)
            : this.#mq.waitWritable(),
        );
      }
      if (!this.#mq.up) await this.#race(new Promise<void>((resolve) => this.#upWaiters.push(resolve)));
      if (this.#signal.aborted) break;
      const at = this.clock.now();
      const body = testBody(i, this.#opts.pid, this.clock.wall(at));
      this.reconciler.recordSent(i, body, at);
      if (i === 1) this.startedAt = at;
      this.#lastSentAt = at;
      this.#publish(i);
      this.#view.sent(i);
    }
  }

  #publish(index: number): void {
    this.#inFlight++;
    const body = Buffer.from(padBody(this.reconciler.bodies[index - 1]!, this.#opts.size), "utf8");
    this.#mq.publish(this.#opts.toWs, body, { contentType: "text/plain", expirationMs: TEST_MESSAGE_TTL_MS })
      .then(() => this.#confirmed++, () => {
        // Sent again only on the next connection: a broker that refuses (nacks) a message on a
        // live connection, e.g. a queue at its length limit, must not get it again in a hot loop.
        if (this.#receiving) this.#retries.push(index);
      })
      .finally(() => {
        this.#inFlight--;
        const wake = this.#slotFreed;
        this.#slotFreed = null;
        wake?.();
        if (this.#inFlight === 0) { for (const settled of this.#settleWaiters.splice(0)) settled(); }
      });
  }

  /** After a (re)connection: resend what the lost connection did not confirm; wake the sender. */
  #onUp(): void {
    for (const index of this.#retries.splice(0)) {
      this.#republished++;
      this.#publish(index);
    }
    for (const wake of this.#upWaiters.splice(0)) wake();
  }

  async #awaitStragglers(): Promise<void> {
    this.waitUntil = this.clock.now() + this.#opts.endDelayMs;
    this.#setPhase("waiting");
    const timer = Promise.withResolvers<void>();
    const handle = setTimeout(timer.resolve, this.#opts.endDelayMs);
    try {
      await this.#race(Promise.race([this.reconciler.complete, timer.promise]));
    } finally {
      clearTimeout(handle);
    }
  }

  /** Resolves when no publish awaits its confirmation, or after `ms`. */
  async #confirmsSettled(ms: number): Promise<void> {
    if (this.#inFlight === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#settleWaiters.push(resolve);
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
  }

  #onDelivery(d: MqDelivery): void {
    if (!this.#receiving) return; // not acknowledged: the broker requeues it when we close
    const at = this.clock.now();
    const text = d.body.toString("utf8");
    const unpadded = unpadBody(text, this.#opts.size);
    const body = unpadded ?? text;
    const { outcome, index } = unpadded === null
      ? { outcome: "foreign" as const, index: 0 } // shorter than --size: damaged on the way, not ours
      : this.reconciler.receive(unpadded, at);
    let action: "ack" | "reject" | "consume" = "ack";
    if (outcome !== "foreign") {
      this.#mq.ack(d);
      if (outcome === "reconciled") this.#lastReceivedAt = at;
    } else if (this.#opts.exclusive) {
      this.#mq.ack(d);
      this.foreign.deliveries++;
      this.foreign.consumed++;
      action = "consume";
    } else {
      this.foreign.deliveries++;
      this.#pacer.hold(body, d);
      action = "reject";
      this.#checkStarved();
    }
    this.foreign.rejected = this.#pacer.rejections;
    this.foreign.held = this.#pacer.held;
    this.#view.received({ outcome, index, body, action });
  }

  #checkStarved(): void {
    if (this.#warnedStarved || this.#pacer.held < this.#opts.prefetch) return;
    this.#warnedStarved = true;
    this.#view.notice(
      `All ${this.#opts.prefetch} prefetch slots hold messages that are not ours: ours cannot get past ` +
        `them. Stale test messages? Run once with -x to clear queue "${this.#opts.fromWs}"`,
    );
  }

  #setPhase(phase: Phase): void {
    this.phase = phase;
    this.#view.phase();
  }

  #result(endedAt: number): RunResult {
    return {
      reconciler: this.reconciler,
      foreign: { ...this.foreign },
      confirmed: this.#confirmed,
      republished: this.#republished,
      foreignHandedBack: this.#pacer.messages,
      startedAt: this.startedAt,
      lastSentAt: this.#lastSentAt,
      lastReceivedAt: this.#lastReceivedAt,
      endedAt,
      interrupted: this.#signal.aborted,
    };
  }
}
