/**
 * What the API stand-in (tools/api_server.ts) received, counted per prefix:
 * the chaos load numbers its bodies `<prefix><index> ` with a prefix ending
 * in "#", so a receipt is matched by parsing, and per index only a copy
 * count and the (wall-clock) time of the first copy are kept, in typed
 * arrays that grow by doubling. 20,000 or a million messages stay cheap, and
 * no prefix has to be announced before its first message arrives.
 */

/** Receipts of one prefix: copies and first-receipt time (epoch ms) per index. */
export class PrefixReceipts {
  copies = new Uint32Array(1024);
  firstAt = new Float64Array(1024).fill(NaN);
  distinct = 0;
  duplicates = 0;
  /** Highest index seen. */
  max = 0;

  /** Counts one copy of `index`, received at `at` (epoch ms). */
  add(index: number, at: number): void {
    if (index >= this.copies.length) this.#grow(index);
    if (this.copies[index]!++ === 0) {
      this.firstAt[index] = at;
      this.distinct++;
    } else {
      this.duplicates++;
    }
    if (index > this.max) this.max = index;
  }

  /** Distinct indices among 1..count, and the first `limit` missing ones. */
  summary(count: number, limit = 20): ReceiptSummary {
    let distinct = 0;
    let missingCount = 0;
    let duplicates = 0;
    const missing: number[] = [];
    for (let i = 1; i <= count; i++) {
      const n = i < this.copies.length ? this.copies[i]! : 0;
      if (n === 0) {
        missingCount++;
        if (missing.length < limit) missing.push(i);
      } else {
        distinct++;
        duplicates += n - 1;
      }
    }
    return { count, distinct, duplicates, missingCount, missing, beyond: this.distinct - distinct };
  }

  /** Copies and first-receipt times of indices 0..count (null where none came). */
  detail(count: number): { copies: number[]; firstAt: (number | null)[] } {
    const copies: number[] = [];
    const firstAt: (number | null)[] = [];
    for (let i = 0; i <= count; i++) {
      const inside = i < this.copies.length;
      copies.push(inside ? this.copies[i]! : 0);
      const at = inside ? this.firstAt[i]! : NaN;
      firstAt.push(Number.isNaN(at) ? null : at);
    }
    return { copies, firstAt };
  }

  #grow(index: number): void {
    let size = this.copies.length;
    while (size <= index) size *= 2;
    const copies = new Uint32Array(size);
    copies.set(this.copies);
    const firstAt = new Float64Array(size).fill(NaN);
    firstAt.set(this.firstAt);
    this.copies = copies;
    this.firstAt = firstAt;
  }
}

/** The received side of one prefix, over indices 1..count. */
export interface ReceiptSummary {
  count: number;
  distinct: number;
  duplicates: number;
  missingCount: number;
  /** The first missing indices (at most 20 by default). */
  missing: number[];
  /** Distinct indices received above `count`. */
  beyond: number;
}

/** Every receipt of the API, by prefix; bodies that are not numbered count as foreign. */
export class Receipts {
  readonly #byPrefix = new Map<string, PrefixReceipts>();
  total = 0;
  foreign = 0;

  /** Counts a received body by its first characters (64 are enough), at `at` (epoch ms). */
  add(head: string, at: number): void {
    this.total++;
    const hash = head.indexOf("#");
    const index = hash < 0 ? NaN : parseInt(head.slice(hash + 1), 10);
    if (!(index >= 1)) {
      this.foreign++;
      return;
    }
    const prefix = head.slice(0, hash + 1);
    let receipts = this.#byPrefix.get(prefix);
    if (!receipts) this.#byPrefix.set(prefix, receipts = new PrefixReceipts());
    receipts.add(index, at);
  }

  /** The receipts of `prefix` (empty if none came). */
  of(prefix: string): PrefixReceipts {
    return this.#byPrefix.get(prefix) ?? new PrefixReceipts();
  }

  /** Distinct indices per prefix seen. */
  prefixes(): Record<string, number> {
    return Object.fromEntries([...this.#byPrefix].map(([p, r]) => [p, r.distinct]));
  }
}
