/**
 * Logging. Exposes a small `Logger` (levels, components, fields) that writes
 * one line per event to a `LogSink`: standard output by default, CloudWatch
 * Logs with `-l`, memory in tests. Every line passes through a `Redactor`
 * before any sink sees it, so no secret reaches a log at any level. Lines are
 * text or JSON (`format`); the formats, and how JSON is redacted, are in
 * `log_format.ts`.
 *
 * Levels follow the original service: WARN and ERROR always, INFO with `-v`,
 * DEBUG with `-d`, the two switches independent of each other.
 */
import { Redactor } from "./secret.ts";
import { type Fields, formatRecord, type Level, type LogFormat, type LogRecord } from "./log_format.ts";

export {
  errorText,
  type Fields,
  formatJsonLine,
  formatLine,
  formatRecord,
  type Level,
  type LineRedactor,
  LOG_FORMATS,
  type LogFormat,
  type LogRecord,
  parseLogFormat,
} from "./log_format.ts";

/** What the rest of the program logs through. */
export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** A logger whose lines name another component (`mq`, `ws`, `bridge`...). */
  child(component: string): Logger;
  /** True when DEBUG lines are written; lets hot paths skip building fields. */
  readonly debugEnabled: boolean;
}

/** Where formatted, redacted lines go. */
export interface LogSink {
  write(line: string, record: LogRecord): void;
  /** Delivers whatever is buffered; called at shutdown. */
  flush(): Promise<void>;
}

/** Which levels are on, where lines go, and what to scrub from them. */
export interface LoggerOptions {
  sink: LogSink;
  info: boolean;
  debug: boolean;
  redactor?: Redactor;
  now?: () => number;
  /** `text` (default) or `json`: see `lib/log_format.ts`. */
  format?: LogFormat;
}

/** Builds a logger for `component` (default `main`). */
export function createLogger(options: LoggerOptions, component = "main"): Logger {
  const redactor = options.redactor ?? new Redactor();
  const now = options.now ?? Date.now;
  const format = options.format ?? "text";
  const enabled: Record<Level, boolean> = {
    debug: options.debug,
    info: options.info,
    warn: true,
    error: true,
  };
  const emit = (level: Level, message: string, fields?: Fields) => {
    if (!enabled[level]) return;
    const record: LogRecord = { time: now(), level, component, message, fields };
    options.sink.write(formatRecord(record, format, redactor), record);
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
    child: (name) => createLogger(options, name),
    debugEnabled: options.debug,
  };
}

/** Writes lines to standard output or standard error, ignoring a closed pipe. */
export function consoleSink(stream: "stdout" | "stderr" = "stdout"): LogSink {
  const target = stream === "stdout" ? Deno.stdout : Deno.stderr;
  const encoder = new TextEncoder();
  return {
    write(line) {
      const bytes = encoder.encode(line + "\n");
      try {
        for (let off = 0; off < bytes.length;) off += target.writeSync(bytes.subarray(off));
      } catch {
        // A closed stdout must not take the bridge down with it.
      }
    },
    flush: () => Promise.resolve(),
  };
}

/**
 * Holds lines until the real sink is known (it depends on the configuration,
 * which is read after the first lines are logged), then passes them on.
 */
export class DeferredSink implements LogSink {
  #target: LogSink | null = null;
  #held: [string, LogRecord][] = [];

  write(line: string, record: LogRecord): void {
    if (this.#target) this.#target.write(line, record);
    else this.#held.push([line, record]);
  }

  /**
   * Sends what was held to `target`, and everything after it. `reformat`
   * writes the held lines again from their records (in the format the
   * configuration chose, say); it must redact, as `formatRecord` does.
   */
  attach(target: LogSink, reformat?: (record: LogRecord) => string): void {
    this.#target = target;
    for (const [line, record] of this.#held.splice(0)) target.write(reformat?.(record) ?? line, record);
  }

  flush(): Promise<void> {
    return this.#target?.flush() ?? Promise.resolve();
  }
}

/** Keeps lines in memory; tests read `lines` and `records`. */
export class MemorySink implements LogSink {
  readonly lines: string[] = [];
  readonly records: LogRecord[] = [];
  write(line: string, record: LogRecord): void {
    this.lines.push(line);
    this.records.push(record);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  /** All lines joined, for `includes` checks. */
  get text(): string {
    return this.lines.join("\n");
  }
}
