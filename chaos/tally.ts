/**
 * Per-message bookkeeping of a chaos or soak run, in typed arrays: when each
 * message was sent, when its first copy came back, how many copies came
 * back. Bodies are `<prefix><index> ` padded with dots, so a receipt is
 * matched by parsing its number, with no per-message strings kept.
 */

/** Sent and received times (monotonic ms) and copy counts of messages 1..count. */
export class Tally {
  readonly count: number;
  readonly prefix: string;
  readonly sentAt: Float64Array;
  readonly backAt: Float64Array;
  readonly copies: Uint32Array;
  sent = 0;
  /** Send time of the latest message sent. */
  lastSentAt = -Infinity;
  distinct = 0;
  duplicates = 0;
  /** Bodies that are not ours (another run's, or not a chaos body at all). */
  foreign = 0;
  /** Latest send time among the messages seen back so far (any copy). */
  lastBackSentAt = -Infinity;
  /** Highest index seen back: above `n`, a message sent after the n-th one has arrived. */
  maxIndexBack = 0;

  readonly #anyIndex: boolean;

  /**
   * With `anyIndex`, a receipt of an index with no send time is counted all the same: the API
   * stand-in's messages are counted live, and their send times (the API's) are filled in at the end.
   */
  constructor(count: number, prefix: string, { anyIndex = false } = {}) {
    this.count = count;
    this.prefix = prefix;
    this.#anyIndex = anyIndex;
    this.sentAt = new Float64Array(count + 1).fill(NaN);
    this.backAt = new Float64Array(count + 1).fill(NaN);
    this.copies = new Uint32Array(count + 1);
  }

  /** The body of message `index`, `bytes` long (never shorter than its number). */
  body(index: number, bytes: number): string {
    const head = `${this.prefix}${index} `;
    return head.length >= bytes ? head : head + ".".repeat(bytes - head.length);
  }

  /** Notes that message `index` was sent at `at`. */
  recordSent(index: number, at: number): void {
    this.sentAt[index] = at;
    this.lastSentAt = at;
    this.sent++;
  }

  /** Notes that message `index` was sent at `at`, after the fact (the API stand-in's word). */
  markSent(index: number, at: number): void {
    if (Number.isNaN(this.sentAt[index]!)) this.sent++;
    this.sentAt[index] = at;
    this.lastSentAt = Math.max(this.lastSentAt, at);
  }

  /** True when `head` is one of ours (starts with the prefix). */
  owns(head: string): boolean {
    return head.startsWith(this.prefix);
  }

  /** Matches a received body (its first 64 characters are enough) at `at`. */
  receive(head: string, at: number): void {
    this.receiveIndex(this.owns(head) ? parseInt(head.slice(this.prefix.length), 10) : NaN, at);
  }

  /** Counts `copies` copies of message `index`, the first of them received at `at`. */
  receiveIndex(index: number, at: number, copies = 1): void {
    const unsent = !(index >= 1 && index <= this.count) ||
      (!this.#anyIndex && Number.isNaN(this.sentAt[index]!));
    if (unsent) {
      this.foreign += copies;
      return;
    }
    if (this.copies[index] === 0) {
      this.backAt[index] = at;
      this.distinct++;
      this.duplicates += copies - 1;
    } else {
      this.duplicates += copies;
    }
    this.copies[index]! += copies;
    if (index > this.maxIndexBack) this.maxIndexBack = index;
    if (!Number.isNaN(this.sentAt[index]!)) {
      this.lastBackSentAt = Math.max(this.lastBackSentAt, this.sentAt[index]!);
    }
  }

  /** Messages sent and never seen back. */
  get lost(): number {
    return this.sent - this.distinct;
  }

  /** Milliseconds from `t` to the first receipt of a message sent at or after `t` (NaN: none). */
  recoveryAfter(t: number): number {
    let first = Infinity;
    for (let i = 1; i <= this.count; i++) {
      if (this.sentAt[i]! >= t && this.backAt[i]! < first) first = this.backAt[i]!;
    }
    return first === Infinity ? NaN : first - t;
  }

  /** Milliseconds from `t` to the first receipt of any message at or after `t` (NaN: none). */
  firstBackAfter(t: number): number {
    let first = Infinity;
    for (let i = 1; i <= this.count; i++) {
      if (this.backAt[i]! >= t && this.backAt[i]! < first) first = this.backAt[i]!;
    }
    return first === Infinity ? NaN : first - t;
  }

  /** Numbers of the messages sent and never seen back (at most `max` of them). */
  missing(max = 20): number[] {
    const out: number[] = [];
    for (let i = 1; i <= this.count && out.length < max; i++) {
      if (!Number.isNaN(this.sentAt[i]!) && this.copies[i] === 0) out.push(i);
    }
    return out;
  }

  /** Numbers of the messages that came back more than once (at most `max`). */
  duplicated(max = 20): number[] {
    const out: number[] = [];
    for (let i = 1; i <= this.count && out.length < max; i++) if (this.copies[i]! > 1) out.push(i);
    return out;
  }
}
