/**
 * Paces the rejection (nack with requeue) of messages that are not ours.
 *
 * Why: RabbitMQ puts a rejected message back at the head of its queue and
 * delivers it again at once, to whichever consumer has room, which is us
 * again when we are the only consumer. Rejecting at once would spin a hot
 * loop (the original's behaviour): both processes and the broker busy with
 * one message, thousands of times a second, for the whole run.
 *
 * So a foreign message is handed back at once the first time we see it (its
 * owner, if it is consuming too, gets the next chance), and held unacknowledged
 * for a growing time on each later sighting: `baseMs`, doubling, up to `maxMs`.
 * A message nobody else wants then costs about one rejection per `maxMs`.
 * While held it occupies one prefetch slot; our own messages keep flowing
 * through the others. Everything held is released at `releaseAll()`.
 *
 * Each hold is jittered (x0.5 to x1.5). Measured without it: two testers on
 * the same queue, each holding the other's last message, released them in
 * strict alternation; the broker's round robin then gave each message back
 * to the tester that had just released it, every time, for the whole end
 * delay. Random holds break that lockstep within a few cycles.
 */
import type { MqAckHandle } from "../handlers/mq/session.ts";

/** How long to hold a message the `n`th time we see it (n >= 1), before jitter. */
export function holdMs(n: number, baseMs: number, maxMs: number): number {
  return n <= 1 ? 0 : Math.min(maxMs, baseMs * 2 ** (n - 2));
}

/** Timing and the action that hands a message back. */
export interface RejectPacerOptions {
  /** Rejects the delivery with requeue. */
  release: (handle: MqAckHandle) => void;
  baseMs?: number;
  maxMs?: number;
  /** Uniform in [0, 1), for the jitter (tests pass their own). */
  random?: () => number;
  /** Timer functions (tests pass their own). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (id: unknown) => void;
}

/** Remembered bodies; beyond this the oldest sightings are forgotten (they start again at once). */
const MAX_REMEMBERED = 100_000;
/** Enough of a body to tell messages apart without keeping large bodies alive. */
const KEY_CHARS = 256;

/** Holds foreign deliveries for a growing time before rejecting them. */
export class RejectPacer {
  readonly #release: (handle: MqAckHandle) => void;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (id: unknown) => void;
  readonly #sightings = new Map<string, number>();
  readonly #held = new Map<unknown, MqAckHandle>();
  #rejections = 0;
  #maxHeld = 0;

  constructor(opts: RejectPacerOptions) {
    this.#release = opts.release;
    this.#baseMs = opts.baseMs ?? 50;
    this.#maxMs = opts.maxMs ?? 500;
    this.#random = opts.random ?? Math.random;
    this.#setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = opts.clearTimer ?? ((id) => clearTimeout(id as ReturnType<typeof setTimeout>));
  }

  /** Rejections sent so far. */
  get rejections(): number {
    return this.#rejections;
  }

  /** Distinct messages (by body) taken so far: each is, or will be, handed back to the queue. */
  get messages(): number {
    return this.#sightings.size;
  }

  /** Deliveries held right now (each takes a prefetch slot). */
  get held(): number {
    return this.#held.size;
  }

  /** The most deliveries held at once. */
  get maxHeld(): number {
    return this.#maxHeld;
  }

  /** Takes a foreign delivery; rejects it now or after its hold time. Returns that time in ms. */
  hold(body: string, handle: MqAckHandle): number {
    const key = body.length > KEY_CHARS ? `${body.length}:${body.slice(0, KEY_CHARS)}` : body;
    const seen = (this.#sightings.get(key) ?? 0) + 1;
    this.#sightings.delete(key); // re-inserted last: the Map's order is then least recently seen first
    this.#sightings.set(key, seen);
    if (this.#sightings.size > MAX_REMEMBERED) this.#sightings.delete(this.#sightings.keys().next().value!);
    const ms = Math.round(holdMs(seen, this.#baseMs, this.#maxMs) * (0.5 + this.#random()));
    if (ms <= 0) {
      this.#reject(handle);
      return 0;
    }
    const id = this.#setTimer(() => {
      this.#held.delete(id);
      this.#reject(handle);
    }, ms);
    this.#held.set(id, handle);
    this.#maxHeld = Math.max(this.#maxHeld, this.#held.size);
    return ms;
  }

  /** Rejects everything held now (at the end of the run). Safe to call twice. */
  releaseAll(): void {
    for (const [id, handle] of this.#held) {
      this.#clearTimer(id);
      this.#reject(handle);
    }
    this.#held.clear();
  }

  #reject(handle: MqAckHandle): void {
    this.#rejections++;
    this.#release(handle);
  }
}
