/**
 * The terminal, for the full-screen views, with ANSI escapes only (no
 * curses): the alternate screen, a hidden cursor, keys read one at a time
 * without echo (cbreak: Ctrl-C still raises SIGINT), the size and its
 * changes (SIGWINCH). `close()` puts every one of those back, and is also
 * run if the program dies of an uncaught error, so a crash never leaves the
 * terminal unusable.
 */

/** Columns and rows. */
export interface Size {
  columns: number;
  rows: number;
}

/** The terminal streams, as Deno has them (tests may pass others). */
export interface Terminal {
  stdout: { writeSync(bytes: Uint8Array): number; isTerminal(): boolean };
  stdin: {
    isTerminal(): boolean;
    setRaw(mode: boolean, options?: { cbreak: boolean }): void;
    read(buf: Uint8Array): Promise<number | null>;
  };
  consoleSize(): Size;
}

const ESC = "\x1b[";
const ENTER = `${ESC}?1049h${ESC}?25l${ESC}2J${ESC}H`; // alternate screen, hide cursor, clear
const LEAVE = `${ESC}0m${ESC}?25h${ESC}?1049l`; // reset colours, show cursor, main screen

/** A full-screen session on the terminal. */
export class Screen {
  readonly #term: Terminal;
  readonly #encoder = new TextEncoder();
  readonly #keys: boolean;
  #size: Size;
  #open = true;
  #resizeListeners = new Set<() => void>();
  readonly #onWinch = () => this.#resized();
  readonly #onFatal = () => this.close();

  private constructor(term: Terminal) {
    this.#term = term;
    this.#size = safeSize(term);
    this.#keys = term.stdin.isTerminal();
  }

  /** Takes over the terminal. Throws if standard output is not one. */
  static open(term: Terminal = denoTerminal()): Screen {
    if (!term.stdout.isTerminal()) {
      throw new Error("Cannot draw a full-screen view: standard output is not a terminal");
    }
    const screen = new Screen(term);
    globalThis.addEventListener("error", screen.#onFatal);
    globalThis.addEventListener("unhandledrejection", screen.#onFatal);
    globalThis.addEventListener("unload", screen.#onFatal);
    try {
      Deno.addSignalListener("SIGWINCH", screen.#onWinch);
    } catch {
      // Not on this platform: the size is read again at every frame anyway.
    }
    if (screen.#keys) term.stdin.setRaw(true, { cbreak: true });
    screen.#write(ENTER);
    return screen;
  }

  /** The terminal's size now. */
  get size(): Size {
    return this.#size;
  }

  /** Calls `fn` after the terminal was resized. */
  onResize(fn: () => void): void {
    this.#resizeListeners.add(fn);
  }

  /** True when keys can be read (standard input is a terminal). */
  get interactive(): boolean {
    return this.#keys;
  }

  /** Draws a whole frame: `lines[i]` on row i, each cut to the width (the rest of the row cleared). */
  draw(lines: readonly string[]): void {
    if (!this.#open) return;
    this.#size = safeSize(this.#term);
    const { columns, rows } = this.#size;
    let frame = `${ESC}?2026h`; // synchronized update, where supported: no tearing
    for (let row = 0; row < rows; row++) {
      // The bottom-right cell is left alone: writing it scrolls some terminals.
      const width = row === rows - 1 ? columns - 1 : columns;
      const text = (lines[row] ?? "").slice(0, width);
      frame += `${ESC}${row + 1};1H${text}${text.length < width ? `${ESC}K` : ""}`;
    }
    this.#write(`${frame}${ESC}?2026l`);
  }

  /** Resolves with the next key pressed, or null when `signal` aborts or keys cannot be read. */
  async nextKey(signal: AbortSignal): Promise<string | null> {
    if (!this.#keys || signal.aborted) return null;
    const buf = new Uint8Array(16);
    const aborted = new Promise<null>((resolve) => signal.addEventListener("abort", () => resolve(null)));
    const n = await Promise.race([this.#term.stdin.read(buf), aborted]);
    return n ? new TextDecoder().decode(buf.subarray(0, n)) : null;
  }

  /** Gives the terminal back as it was. Safe to call twice. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    globalThis.removeEventListener("error", this.#onFatal);
    globalThis.removeEventListener("unhandledrejection", this.#onFatal);
    globalThis.removeEventListener("unload", this.#onFatal);
    try {
      Deno.removeSignalListener("SIGWINCH", this.#onWinch);
    } catch {
      // never added
    }
    this.#write(LEAVE);
    if (this.#keys) {
      try {
        this.#term.stdin.setRaw(false);
      } catch {
        // stdin already gone; nothing left to restore
      }
    }
  }

  #resized(): void {
    this.#size = safeSize(this.#term);
    for (const fn of this.#resizeListeners) fn();
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    try {
      for (let off = 0; off < bytes.length;) off += this.#term.stdout.writeSync(bytes.subarray(off));
    } catch {
      // The terminal went away (hang-up); nothing to draw on.
    }
  }
}

/** Deno's own standard streams. */
export function denoTerminal(): Terminal {
  return {
    stdout: Deno.stdout,
    stdin: Deno.stdin,
    consoleSize: () => Deno.consoleSize(),
  };
}

function safeSize(term: Terminal): Size {
  try {
    const { columns, rows } = term.consoleSize();
    return { columns: Math.max(1, columns), rows: Math.max(1, rows) };
  } catch {
    return { columns: 80, rows: 24 };
  }
}
