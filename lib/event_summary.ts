/**
 * Repeated events logged as a summary, never one line per event: the first
 * event of a quiet spell is logged at once, later ones are counted and
 * logged as one line per interval saying how many happened since the last
 * line. A broker that refuses every publish for a minute gives a handful of
 * lines, not thousands.
 */
import type { TimerHandle, Timers } from "./clock.ts";

/** Writes one line: `count` events in the last `spanMs` (0 for the first of a spell); `last` is the latest's detail. */
export type SummaryEmit<T> = (last: T, count: number, spanMs: number) => void;

/** Counts events of one kind and emits at most one line per `intervalMs`. */
export class EventSummary<T> {
  readonly #emit: SummaryEmit<T>;
  readonly #intervalMs: number;
  readonly #clock: Timers;
  #pending = 0;
  #last: T | undefined;
  #since = 0;
  #timer: TimerHandle | undefined;
  #total = 0;

  constructor(emit: SummaryEmit<T>, intervalMs: number, clock: Timers) {
    this.#emit = emit;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
  }

  /** Events noted so far, in all. */
  get total(): number {
    return this.#total;
  }

  /** Notes one event (`n` of them) with the latest's detail. */
  note(detail: T, n = 1): void {
    this.#total += n;
    this.#last = detail;
    if (this.#timer === undefined) {
      // Quiet until now: say it at once, then hold further lines for an interval.
      this.#emit(detail, n, 0);
      this.#since = this.#clock.now();
      this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#intervalMs);
      return;
    }
    this.#pending += n;
  }

  /** Emits what is pending now (at shutdown) and stops the timer. */
  flush(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending > 0) this.#emit(this.#last!, this.#pending, this.#clock.now() - this.#since);
    this.#pending = 0;
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#pending === 0) return;
    this.#emit(this.#last!, this.#pending, this.#clock.now() - this.#since);
    this.#pending = 0;
    this.#since = this.#clock.now();
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#intervalMs);
  }
}
