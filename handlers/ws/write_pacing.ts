/**
 * When the relay writes the messages it was given (handlers/ws/relay.ts):
 * at once while they come a few at a time, and at most once every
 * `COALESCE_MS` while they come in batches.
 *
 * Each write to the API's socket costs a system call, and on the API's side
 * a wake-up and a read (on loopback the sender pays for both). At a few
 * hundred messages a second every message is alone, and waiting would only
 * add latency; under a flood the broker delivers a dozen at a time every
 * millisecond or so, and gathering two milliseconds of them into one write
 * cuts the writes by two thirds, for a delay that the queueing of a flood
 * already dwarfs. Measured (docs/performance.md): the bridge's CPU per
 * message 9% lower, the echo server's 17%. The Nagle algorithm makes the
 * same trade in the kernel, where the bridge turns it off (`ws_no_delay`)
 * for its 40 ms stalls.
 */

/** The shortest time between two writes while the messages come in batches. */
export const COALESCE_MS = 2;
/** A write of at least this many messages means batches: the next one may wait. */
export const BUSY_BATCH = 4;

/** Remembers the last write, and says how long the next one waits. */
export class WritePacer {
  readonly #coalesceMs: number;
  #lastAt = -Infinity;
  #lastMessages = 0;

  /** `coalesceMs`: the shortest time between two writes while messages come in batches. */
  constructor(coalesceMs = COALESCE_MS) {
    this.#coalesceMs = coalesceMs;
  }

  /** How many milliseconds to wait before writing what is sent at `now`: 0 means now. */
  delay(now: number): number {
    if (this.#lastMessages < BUSY_BATCH) return 0;
    const wait = this.#lastAt + this.#coalesceMs - now;
    return wait > 0 ? wait : 0;
  }

  /** A write of `messages` messages starts at `now`. */
  wrote(now: number, messages: number): void {
    this.#lastAt = now;
    this.#lastMessages = messages;
  }
}
