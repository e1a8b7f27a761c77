/**
 * Test fixture: a real terminal, from tmux. Runs one shell command in a
 * detached tmux session on a private server (its socket in a temporary
 * directory, killed and removed at dispose), reads the screen, types keys,
 * resizes the window. The command's exit status, and the terminal modes before and after it (`stty -g`), are
 * written to files, and the end is signalled through `tmux wait-for`, so a
 * test awaits the exit as an event. The shell stays after the command ends,
 * so the last screen and the terminal's modes can still be read.
 */

/** True when tmux can be run here. */
export const HAS_TMUX = await (async () => {
  try {
    return (await new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
})();

/** What the command left: exit status and whether the terminal modes were put back. */
export interface TmuxExit {
  code: number;
  sttyBefore: string;
  sttyAfter: string;
}

/** `await using term = await openTmux(cmd, { columns, rows })` */
export class TmuxTerminal implements AsyncDisposable {
  readonly #dir: string;
  /** The server's socket, inside the temporary directory: gone with it at dispose. */
  readonly #socket: string;
  readonly #channel = "done";

  private constructor(dir: string) {
    this.#dir = dir;
    this.#socket = `${dir}/tmux.sock`;
  }

  /** Starts `command` (a shell command line) in a `columns` x `rows` terminal. */
  static async open(command: string, size: { columns: number; rows: number }): Promise<TmuxTerminal> {
    const dir = await Deno.makeTempDir({ prefix: "bt-tmux-" });
    const term = new TmuxTerminal(dir);
    const conf = `${dir}/tmux.conf`;
    await Deno.writeTextFile(conf, "set -g remain-on-exit on\nset -g status off\n");
    const script = [
      // A trap (not an ignore, which the program would inherit) keeps the shell alive through
      // Ctrl-C, which the terminal sends to the whole foreground process group.
      "trap : INT",
      `stty -g > ${dir}/before`,
      command,
      `echo $? > ${dir}/code`,
      `stty -g > ${dir}/after`,
      `tmux -S ${term.#socket} wait-for -S ${term.#channel}`,
      // Stay until dispose, so the pane's modes are read from a live pane.
      `tmux -S ${term.#socket} wait-for never`,
    ].join("; ");
    try {
      await term.#tmux([
        "-f",
        conf,
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        String(size.columns),
        "-y",
        String(size.rows),
        `sh -c '${script.replaceAll("'", `'\\''`)}'`,
      ]);
    } catch (err) {
      await term[Symbol.asyncDispose]();
      throw err;
    }
    return term;
  }

  /** The visible screen, one string per row (trailing blanks trimmed). */
  async screen(): Promise<string[]> {
    return (await this.#tmux(["capture-pane", "-p", "-t", "t"])).replace(/\n$/, "").split("\n").map((line) =>
      line.trimEnd()
    );
  }

  /** A tmux format for the pane, e.g. `#{alternate_on}`. */
  async display(format: string): Promise<string> {
    return (await this.#tmux(["display-message", "-p", "-t", "t", format])).trim();
  }

  /**
   * Resolves with the screen once `test` accepts it; rejects after `ms` showing the last screen.
   * A screen has no change event, so this reads it every 50 ms until the deadline.
   */
  async waitForScreen(test: (rows: string[]) => boolean, what: string, ms = 20_000): Promise<string[]> {
    const deadline = performance.now() + ms;
    let rows: string[] = [];
    while (performance.now() < deadline) {
      rows = await this.screen();
      if (test(rows)) return rows;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`Cannot see ${what} within ${ms} ms; the screen was:\n${rows.join("\n")}`);
  }

  /** Types keys (tmux key names: "q", "C-c", "Enter"). */
  async keys(...keys: string[]): Promise<void> {
    await this.#tmux(["send-keys", "-t", "t", ...keys]);
  }

  /** Resizes the terminal; the program gets SIGWINCH. */
  async resize(columns: number, rows: number): Promise<void> {
    await this.#tmux(["resize-window", "-t", "t", "-x", String(columns), "-y", String(rows)]);
  }

  /** Waits for the command to end; rejects after `ms`. */
  async exit(ms = 30_000): Promise<TmuxExit> {
    const waiter = new Deno.Command("tmux", {
      args: ["-S", this.#socket, "wait-for", this.#channel],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => waiter.kill("SIGKILL"), ms);
    try {
      const status = await waiter.status;
      if (!status.success) throw new Error(`Cannot see the command in tmux end within ${ms} ms`);
    } finally {
      clearTimeout(timer);
    }
    const read = (name: string) => Deno.readTextFile(`${this.#dir}/${name}`).then((text) => text.trim());
    return {
      code: Number(await read("code")),
      sttyBefore: await read("before"),
      sttyAfter: await read("after"),
    };
  }

  async #tmux(args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", this.#socket, ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#tmux(["kill-server"]).catch(() => {});
    await Deno.remove(this.#dir, { recursive: true });
  }
}

/** Starts `command` in a fresh tmux terminal of the given size. */
export function openTmux(command: string, size = { columns: 100, rows: 30 }): Promise<TmuxTerminal> {
  return TmuxTerminal.open(command, size);
}
