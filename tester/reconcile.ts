/**
 * Reconciliation: which test messages were sent, which came back, when.
 * Messages are numbered 1..count; a received body is looked up in a map
 * (O(1) per message, so long runs stay linear). Times are from a monotonic
 * clock, in milliseconds; wall-clock times are derived for display only.
 */

/** What a received body turned out to be. */
export type Outcome = "reconciled" | "duplicate" | "foreign";

/** The body bridgetester sends: `Test msg #{i} ({pid}.{MMSS})`, as the original did. */
export function testBody(index: number, pid: number, wallMs: number): string {
  const at = new Date(wallMs);
  const mmss = `${pad2(at.getMinutes())}${pad2(at.getSeconds())}`;
  return `Test msg #${index} (${pid}.${mmss})`;
}

/**
 * `--size`: the body padded with " ..." to `size` bytes (test bodies are
 * ASCII, so characters are bytes). A body already that long is unchanged.
 */
export function padBody(body: string, size: number | null): string {
  if (size === null || size <= body.length) return body;
  return body + " " + ".".repeat(size - body.length - 1);
}

/** The body without its padding, or null when it is not exactly `size` bytes (damaged, or not ours). */
export function unpadBody(text: string, size: number | null): string | null {
  if (size === null) return text;
  if (text.length !== size) return text.length < size ? null : text;
  const end = text.search(/ \.*$/);
  return end > 0 ? text.slice(0, end) : text;
}

/** Tracks one run's messages; read by the views and the summary. */
export class Reconciler {
  /** How many messages the run sends. */
  readonly count: number;
  /** Body of message i (1-based) at index i-1; "" until sent. */
  readonly bodies: string[];
  /** Monotonic send time of each message; NaN until sent. */
  readonly sentAt: Float64Array;
  /** Monotonic time of the first receipt; NaN until reconciled. */
  readonly receivedAt: Float64Array;
  #index = new Map<string, number>();
  #sent = 0;
  #reconciled = 0;
  #duplicates = 0;
  #lowestOpen = 0;
  #complete = Promise.withResolvers<void>();

  constructor(count: number) {
    this.count = count;
    this.bodies = new Array<string>(count).fill("");
    this.sentAt = new Float64Array(count).fill(NaN);
    this.receivedAt = new Float64Array(count).fill(NaN);
  }

  /** Messages sent so far. */
  get sent(): number {
    return this.#sent;
  }

  /** Messages that came back at least once. */
  get reconciled(): number {
    return this.#reconciled;
  }

  /** Receipts of a message that had already come back. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** Resolves once every message has come back. */
  get complete(): Promise<void> {
    return this.#complete.promise;
  }

  /** Records that message `index` (1-based) was sent with `body` at monotonic time `at`. */
  recordSent(index: number, body: string, at: number): void {
    const i = index - 1;
    if (i < 0 || i >= this.count || this.bodies[i] !== "") {
      throw new RangeError(`Cannot record message #${index} as sent: out of range or sent already`);
    }
    this.bodies[i] = body;
    this.sentAt[i] = at;
    this.#index.set(body, i);
    this.#sent++;
  }

  /** Matches a received body at monotonic time `at`; `index` is 1-based (0 when foreign). */
  receive(body: string, at: number): { outcome: Outcome; index: number } {
    const i = this.#index.get(body);
    if (i === undefined) return { outcome: "foreign", index: 0 };
    if (!Number.isNaN(this.receivedAt[i]!)) {
      this.#duplicates++;
      return { outcome: "duplicate", index: i + 1 };
    }
    this.receivedAt[i] = at;
    this.#reconciled++;
    if (this.#reconciled === this.count) this.#complete.resolve();
    return { outcome: "reconciled", index: i + 1 };
  }

  /** Milliseconds from send to receipt of message `index` (1-based); NaN if not reconciled. */
  elapsed(index: number): number {
    return this.receivedAt[index - 1]! - this.sentAt[index - 1]!;
  }

  /** True when message `index` (1-based) came back. */
  isReconciled(index: number): boolean {
    return !Number.isNaN(this.receivedAt[index - 1]!);
  }

  /** 1-based number of the first message not yet reconciled (count + 1 when none). Amortised O(1). */
  firstOpen(): number {
    while (this.#lowestOpen < this.count && !Number.isNaN(this.receivedAt[this.#lowestOpen]!)) {
      this.#lowestOpen++;
    }
    return this.#lowestOpen + 1;
  }

  /** Latencies (ms) of every reconciled message, in message order. */
  latencies(): Float64Array {
    const out = new Float64Array(this.#reconciled);
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const ms = this.receivedAt[i]! - this.sentAt[i]!;
      if (!Number.isNaN(ms)) out[n++] = ms;
    }
    return out;
  }

  /** Bodies of the messages sent but not reconciled, in send order. */
  unreconciled(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) {
      if (this.bodies[i] !== "" && Number.isNaN(this.receivedAt[i]!)) out.push(this.bodies[i]!);
    }
    return out;
  }
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}
