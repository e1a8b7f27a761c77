/**
 * Buffered line output for the plain view: at thousands of messages a
 * second, one write system call per line would cost more than the test
 * itself. Lines are joined and written when the buffer fills, on a short
 * timer, and at `flush()`. A closed pipe (`| head`) is ignored.
 */

/** Where bytes go: `Deno.stdout` or `Deno.stderr` (or a test's own). */
export interface SyncWriter {
  writeSync(bytes: Uint8Array): number;
}

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 50;

/** Writes lines in batches. */
export class LineWriter {
  readonly #out: SyncWriter;
  readonly #encoder = new TextEncoder();
  #parts: string[] = [];
  #size = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #broken = false;

  constructor(out: SyncWriter) {
    this.#out = out;
  }

  /** Queues one line (a newline is added). */
  line(text: string): void {
    this.#parts.push(text, "\n");
    this.#size += text.length + 1;
    if (this.#size >= FLUSH_BYTES) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Writes everything queued now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#parts.length === 0) return;
    const bytes = this.#encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#size = 0;
    if (this.#broken) return;
    try {
      for (let off = 0; off < bytes.length;) off += this.#out.writeSync(bytes.subarray(off));
    } catch {
      this.#broken = true; // the reader went away; keep running, say nothing more
    }
  }
}
