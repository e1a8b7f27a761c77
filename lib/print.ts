/**
 * Lines for a person at a terminal (help, usage errors, reports, the
 * programs' own output), as opposed to log lines (lib/log.ts). Written
 * synchronously, whole, and a closed pipe is no error: nobody is reading.
 */
const ENCODER = new TextEncoder();

/** Writes `text` and a newline to standard output. */
export function print(text: string): void {
  writeLine(Deno.stdout, text);
}

/** Writes `text` and a newline to standard error. */
export function printErr(text: string): void {
  writeLine(Deno.stderr, text);
}

function writeLine(out: typeof Deno.stdout, text: string): void {
  const bytes = ENCODER.encode(`${text}\n`);
  try {
    for (let off = 0; off < bytes.length;) off += out.writeSync(bytes.subarray(off));
  } catch {
    // A closed pipe: nobody is reading any more.
  }
}
