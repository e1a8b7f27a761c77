/**
 * Logging. Exposes a small `Logger` (levels, components, fields) that writes
 * one line per event to a `LogSink`: standard output by default, CloudWatch
 * Logs with `-l`, memory in tests. Every line passes through a `Redactor`
 * before any sink sees it, so no secret reaches a log at any level.
 *
 * Levels follow the original service: WARN and ERROR always, INFO with `-v`,
 * DEBUG with `-d`, the two switches independent of each other.
 */
import { Redactor, Secret } from "./secret.ts";

/** Severity of a log line. */
export type Level = "debug" | "info" | "warn" | "error";

/** Extra key=value context attached to a line. */
export type Fields = Record<string, unknown>;

/** One event, before formatting. */
export interface LogRecord {
  time: number;
  level: Level;
  component: string;
  message: string;
  fields?: Fields | undefined;
}

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
}

/** Builds a logger for `component` (default `main`). */
export function createLogger(options: LoggerOptions, component = "main"): Logger {
  const redactor = options.redactor ?? new Redactor();
  const now = options.now ?? Date.now;
  const enabled: Record<Level, boolean> = {
    debug: options.debug,
    info: options.info,
    warn: true,
    error: true,
  };
  const emit = (level: Level, message: string, fields?: Fields) => {
    if (!enabled[level]) return;
    const record: LogRecord = { time: now(), level, component, message, fields };
    options.sink.write(redactor.redact(formatLine(record)), record);
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

/** `2026-01-02T03:04:05.678Z WARN  [mq] Message text key=value ...` */
export function formatLine(record: LogRecord): string {
  const level = record.level.toUpperCase().padEnd(5);
  let line = `${new Date(record.time).toISOString()} ${level} [${record.component}] ${record.message}`;
  for (const [key, value] of Object.entries(record.fields ?? {})) {
    if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
  }
  return line;
}

function formatValue(value: unknown): string {
  if (value instanceof Secret) return "***";
  if (value instanceof Error) return JSON.stringify(errorText(value));
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** An error's message followed by its causes: `outer: inner: root`. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const text = current instanceof Error ? current.message : String(current);
    if (text && !parts.some((part) => part.includes(text))) parts.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
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

  /** Sends what was held to `target`, and everything after it. */
  attach(target: LogSink): void {
    this.#target = target;
    for (const [line, record] of this.#held.splice(0)) target.write(line, record);
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
