/**
 * A program run as a child process, its standard output and error collected
 * line by line so a caller can await a line ("Bridging", "listening on"),
 * signal it, and wait for its exit. Used by the tests, the benchmark and
 * the chaos suite, which all drive the real programs as processes.
 */

/** A running child process; dispose kills it (SIGKILL) and waits. */
export class Program implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly lines: string[] = [];
  /** The lines that came on standard error (they are in `lines` too). */
  readonly errorLines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  readonly #reading: Promise<void>;
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
    this.#child = new Deno.Command(command, {
      args,
      env: { NO_COLOR: "1", ...options.env },
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#reading = Promise.all([
      this.#read(this.#child.stdout),
      this.#read(this.#child.stderr, this.errorLines),
    ]).then(
      () => {},
    );
    this.status = this.#child.status;
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Standard error so far, one string. */
  get errorOutput(): string {
    return this.errorLines.join("\n");
  }

  /** All output so far, one string. */
  get output(): string {
    return this.lines.join("\n");
  }

  /** Resolves with the first output line (past or future) matching `pattern`; rejects after `ms`. */
  waitForLine(pattern: RegExp, ms = 15_000): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise<string>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`Cannot see output ${pattern} within ${ms} ms`)), ms);
      this.#waiters.push({ pattern, resolve });
    }).finally(() => clearTimeout(timer));
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
  }

  /** Waits for the exit (killing it after `ms`) and for all output to be read. */
  async exit(ms = 20_000): Promise<Deno.CommandStatus> {
    const timer = setTimeout(() => this.kill("SIGKILL"), ms);
    try {
      const status = await this.status;
      await this.#reading;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  async #read(stream: ReadableStream<Uint8Array>, also?: string[]): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) this.#line(line, also);
    }
    if (rest) this.#line(rest, also);
  }

  #line(line: string, also?: string[]): void {
    this.lines.push(line);
    also?.push(line);
    this.#waiters = this.#waiters.filter((w) => !(w.pattern.test(line) && (w.resolve(line), true)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.exit();
  }
}

/** `deno run` with these permission flags, of a script of this repository. */
export function denoScript(
  script: string,
  permissions: string[],
  args: string[],
  env?: Record<string, string>,
) {
  const path = new URL(`../${script}`, import.meta.url).pathname;
  return new Program(
    Deno.execPath(),
    ["run", "--no-check", ...permissions, path, ...args],
    env ? { env } : {},
  );
}
