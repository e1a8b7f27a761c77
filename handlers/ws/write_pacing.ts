/**
 * When the relay writes the messages it was given (handlers/ws/relay.ts):
 * at the end of the turn they were sent in, unless the last two writes each
 * carried a batch (at least `BUSY_BATCH` messages, under `BUSY_BYTES`): then
 * not before `ws_coalesce_ms` after the last one. Two in a row, because one
 * batch also comes at a few hundred messages a second, when the broker hands
 * over at once what a pause of its own held back; pacing then would only
 * delay the messages after it.
 *
 * Each write to the API's socket costs a system call, and on the API's side
 * a wake-up and a read (on loopback the sender pays for both). At a few
 * hundred messages a second every message is alone and goes at once; under a
 * flood the broker delivers several at a time every millisecond or so, and
 * gathering them cut the writes by about two thirds (docs/performance.md,
 * measured with a first version that paced after one batch: the bridge's
 * CPU per message 9% lower, the echo server's 17%). The price is
 * latency right after a batch: a message sent then waits for the timer,
 * which Deno fires a little late (2 ms come to 2 to 3 ms; more on a loaded
 * event loop), where queueing under a flood already costs tens of
 * milliseconds. Large writes are not paced: their system calls are few, and
 * a small `ws_max_buffered_bytes` would otherwise cap the throughput at one
 * backlog per interval. `ws_coalesce_ms = 0` turns it off.
 */

/** ws_coalesce_ms's default. */
export const COALESCE_MS = 2;
/** A write of at least this many messages means batches: the next one may wait. */
export const BUSY_BATCH = 4;
/** ...unless it was this large. */
export const BUSY_BYTES = 64 * 1024;

/** Remembers the last write, and says how long the next one waits. */
export class WritePacer {
  readonly #coalesceMs: number;
  #lastAt = -Infinity;
  #lastBusy = false;
  #paced = false;

  /** `coalesceMs`: ws_coalesce_ms, the shortest time between two writes while messages come in batches. */
  constructor(coalesceMs = COALESCE_MS) {
    this.#coalesceMs = coalesceMs;
  }

  /** How many milliseconds to wait before writing what is sent at `now`: 0 means now. */
  delay(now: number): number {
    if (!this.#paced) return 0;
    const wait = this.#lastAt + this.#coalesceMs - now;
    return wait > 0 ? wait : 0;
  }

  /** A write of `messages` messages, `bytes` of payload, starts at `now`. */
  wrote(now: number, messages: number, bytes: number): void {
    const busy = messages >= BUSY_BATCH && bytes < BUSY_BYTES;
    this.#paced = busy && this.#lastBusy;
    this.#lastBusy = busy;
    this.#lastAt = now;
  }
}
