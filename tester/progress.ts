/**
 * Interval progress, in the manner of RabbitMQ's PerfTest: every sample
 * reports the send and reconcile rates and the latency percentiles of the
 * messages that came back since the previous sample (the "running" latency,
 * which shows a change as it happens instead of averaging it away).
 */
import type { Clock } from "../lib/clock.ts";
import { type LatencyStats, latencyStats } from "./percentiles.ts";
import type { Reconciler } from "./reconcile.ts";

/** One progress sample. */
export interface Progress {
  /** Seconds since the meter was created. */
  secs: number;
  sent: number;
  reconciled: number;
  /** Rates over the interval since the previous sample. */
  sentPerSec: number;
  reconciledPerSec: number;
  /** Sent and not (yet) back. */
  outstanding: number;
  /** Latencies of the messages reconciled during the interval; null if none. */
  latency: LatencyStats | null;
}

/** Collects latencies between samples. */
export class ProgressMeter {
  readonly #reconciler: Reconciler;
  readonly #clock: Clock;
  readonly #origin: number;
  #lastAt: number;
  #lastSent = 0;
  #lastReconciled = 0;
  #window: number[] = [];

  constructor(reconciler: Reconciler, clock: Clock) {
    this.#reconciler = reconciler;
    this.#clock = clock;
    this.#origin = this.#lastAt = clock.now();
  }

  /** Records the latency of a message that just came back. */
  add(latencyMs: number): void {
    this.#window.push(latencyMs);
  }

  /** Takes a sample and starts the next interval. */
  sample(): Progress {
    const now = this.#clock.now();
    const r = this.#reconciler;
    const secs = Math.max(1e-3, (now - this.#lastAt) / 1000);
    const progress: Progress = {
      secs: (now - this.#origin) / 1000,
      sent: r.sent,
      reconciled: r.reconciled,
      sentPerSec: (r.sent - this.#lastSent) / secs,
      reconciledPerSec: (r.reconciled - this.#lastReconciled) / secs,
      outstanding: r.sent - r.reconciled,
      latency: latencyStats(this.#window),
    };
    this.#lastAt = now;
    this.#lastSent = r.sent;
    this.#lastReconciled = r.reconciled;
    this.#window = [];
    return progress;
  }
}
