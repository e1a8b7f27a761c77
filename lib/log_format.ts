/**
 * Log line formats: how one `LogRecord` becomes one line, already redacted.
 *
 * - `text` (the default, the original service's line):
 *   `2026-01-02T03:04:05.678Z WARN  [mq] Message text key=value ...`
 * - `json`: one JSON object per line, for CloudWatch Logs Insights, Loki and
 *   the like: `time` (ISO 8601, as in the text line), `level` (lower case:
 *   `debug`, `info`, `warn`, `error`), `component`, `msg`, then the event's
 *   fields as top-level keys. A field named like one of those four is written
 *   as `field_<name>` (`field_time`...).
 *
 * Redaction in JSON works on the strings, not only on the line: JSON escapes
 * `"`, `\` and control characters, so a secret holding one of them would no
 * longer match its registered value once serialised. Every string (message,
 * field names and values, nested ones, error texts) is redacted before it is
 * serialised, and the finished line is redacted again (see `finishJson`).
 */
import { type Redactor, Secret } from "./secret.ts";

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

/** What formatting needs of a `Redactor` (lib/secret.ts). */
export type LineRedactor = Pick<Redactor, "redact" | "redactValues">;

/** How log lines are written: `text` (default) or `json` (one object per line). */
export type LogFormat = "text" | "json";

/** Every log format, the default first. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** `"text"` or `"json"` (exactly, lower case) as a `LogFormat`; null for anything else. */
export function parseLogFormat(text: string): LogFormat | null {
  return LOG_FORMATS.find((format) => format === text) ?? null;
}

/**
 * One redacted line for `record` in `format`: what a `LogSink` receives. In
 * both formats each string is redacted before it is quoted, and the whole
 * line after.
 */
export function formatRecord(record: LogRecord, format: LogFormat, redactor: LineRedactor): string {
  if (format === "json") return formatJsonLine(record, redactor);
  return redactor.redact(formatLine(record, (text) => redactor.redact(text)));
}

/**
 * `2026-01-02T03:04:05.678Z WARN  [mq] Message text key=value ...`. `scrub`
 * redacts each string before a value is quoted (a quoted value escapes `"`
 * and `\`, and a nested one is escaped twice, so the line's own redaction
 * could not find a secret holding them); `formatRecord` passes the redactor.
 */
export function formatLine(record: LogRecord, scrub: (text: string) => string = (text) => text): string {
  const level = record.level.toUpperCase().padEnd(5);
  const head = `${new Date(record.time).toISOString()} ${level} [${scrub(record.component)}]`;
  let line = `${head} ${scrub(record.message)}`;
  for (const [key, value] of Object.entries(record.fields ?? {})) {
    if (value !== undefined) line += ` ${scrub(key)}=${formatValue(value, scrub)}`;
  }
  return line;
}

function formatValue(value: unknown, scrub: (text: string) => string): string {
  if (value instanceof Secret) return "***";
  if (value instanceof Error) return JSON.stringify(scrub(errorText(value)));
  const text = typeof value === "string"
    ? scrub(value)
    : JSON.stringify(value, scrubbing(scrub)) ?? scrub(String(value));
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** A `JSON.stringify` replacer that redacts strings and object keys, and changes nothing else. */
function scrubbing(scrub: (text: string) => string): (key: string, item: unknown) => unknown {
  return (_key, item) => {
    if (typeof item === "string") return scrub(item);
    if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
    const entries = Object.entries(item);
    if (!entries.some(([key]) => scrub(key) !== key)) return item;
    return Object.fromEntries(entries.map(([key, inner]) => [scrub(key), inner]));
  };
}

/** The keys every JSON line starts with; a field of the same name becomes `field_<name>`. */
export const JSON_KEYS = ["time", "level", "component", "msg"] as const;

/** `{"time":"2026-01-02T03:04:05.678Z","level":"warn","component":"mq","msg":"...","key":value,...}`, redacted. */
export function formatJsonLine(record: LogRecord, redactor: LineRedactor): string {
  const scrub = (text: string) => redactor.redact(text);
  const members = headMembers(record, scrub(record.message), scrub);
  const used = new Set<string>(JSON_KEYS);
  for (const [key, value] of Object.entries(record.fields ?? {})) {
    if (value === undefined) continue;
    let name = scrub(key);
    while (used.has(name)) name = `field_${name}`;
    used.add(name);
    members.push(`${JSON.stringify(name)}:${JSON.stringify(jsonValue(value, scrub, []))}`);
  }
  return finishJson(`{${members.join(",")}}`, record, redactor);
}

/** `time`, `level`, `component`, `msg`, serialised, in that order. */
function headMembers(record: LogRecord, msg: string, scrub: (text: string) => string): string[] {
  return [
    `"time":${JSON.stringify(new Date(record.time).toISOString())}`,
    `"level":${JSON.stringify(record.level)}`,
    `"component":${JSON.stringify(scrub(record.component))}`,
    `"msg":${JSON.stringify(msg)}`,
  ];
}

/**
 * The last pass over a JSON line, as over a text line. Every string is
 * redacted already, so it usually changes nothing. When it does change the
 * line, it found either a secret in the escaped form only (a value holding
 * `"`, `\` or a control character whose escape lines up with a registered
 * value) or a credential pattern matched across two strings (a `scheme://host`
 * at the end of one string and an `@` in a later one): the line is kept only
 * if it is still JSON; if not, and no registered secret is in it, the match
 * spanned strings that were each redacted already and the line goes out as
 * it was; otherwise the fields are withheld, and as a last resort the message.
 */
function finishJson(line: string, record: LogRecord, redactor: LineRedactor): string {
  const redacted = redactor.redact(line);
  if (redacted === line || isJson(redacted)) return redacted;
  if (redactor.redactValues(line) === line) return line;
  const scrub = (text: string) => redactor.redact(text);
  const withheld = "fields withheld: the redactor matched across them";
  const bare = `{${headMembers(record, scrub(record.message), scrub).join(",")},"log_fields":"${withheld}"}`;
  if (redactor.redact(bare) === bare) return bare;
  const msg = "Log line withheld: the redactor could not make it safe JSON";
  return `{${headMembers(record, msg, scrub).join(",")}}`;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * `value` as plain JSON data with every string redacted: a `Secret` is
 * `"***"`, an Error its `errorText`, a bigint its decimal string, an object
 * with `toJSON` what that returns, a cycle `"[Circular]"`; functions and
 * symbols print as text at the top level and are left out inside objects, as
 * `JSON.stringify` does.
 */
function jsonValue(value: unknown, scrub: (text: string) => string, path: object[]): unknown {
  if (value === null || typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "string") return scrub(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object") return path.length === 0 ? scrub(String(value)) : undefined;
  if (value instanceof Secret) return "***";
  if (value instanceof Error) return scrub(errorText(value));
  if (path.includes(value)) return "[Circular]";
  const inner = [...path, value];
  const toJson = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJson === "function") return jsonValue(toJson.call(value), scrub, inner);
  if (Array.isArray(value)) return value.map((item) => jsonValue(item, scrub, inner) ?? null);
  const out: Record<string, unknown> = Object.create(null); // a "__proto__" key stays a key
  for (const [key, item] of Object.entries(value)) {
    const converted = jsonValue(item, scrub, inner);
    if (converted !== undefined) out[scrub(key)] = converted;
  }
  return out;
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
