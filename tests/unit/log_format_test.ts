import assert from "node:assert/strict";
import {
  createLogger,
  formatJsonLine,
  formatLine,
  formatRecord,
  type LineRedactor,
  LOG_FORMATS,
  type LogRecord,
  MemorySink,
  parseLogFormat,
} from "../../lib/log.ts";
import { Redactor, Secret } from "../../lib/secret.ts";

const TIME = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const record = (message: string, fields?: Record<string, unknown>): LogRecord => ({
  time: TIME,
  level: "warn",
  component: "mq",
  message,
  fields,
});

/** Every string inside a parsed JSON value, keys included. */
function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => [key, ...strings(item)]);
  }
  return [];
}

Deno.test("parseLogFormat() accepts text and json exactly, and nothing else", () => {
  assert.deepEqual(LOG_FORMATS, ["text", "json"]);
  assert.equal(parseLogFormat("text"), "text");
  assert.equal(parseLogFormat("json"), "json");
  for (const bad of ["", "JSON", " json", "jsonl", "logfmt"]) assert.equal(parseLogFormat(bad), null, bad);
});

Deno.test("formatJsonLine() writes time, level, component, msg, then each field as a key with its JSON type", () => {
  const line = formatJsonLine(
    record("Lost the broker connection", {
      attempt: 2,
      queue: "to ws",
      ok: true,
      missing: undefined,
      nothing: null,
      big: 12345678901234567890n,
      error: new Error("socket closed", { cause: new Error("ECONNRESET") }),
      nested: { list: [1, "two", undefined], at: new Date(TIME) },
    }),
    new Redactor(),
  );
  assert.equal(
    line,
    '{"time":"2026-01-02T03:04:05.678Z","level":"warn","component":"mq","msg":"Lost the broker connection",' +
      '"attempt":2,"queue":"to ws","ok":true,"nothing":null,"big":"12345678901234567890",' +
      '"error":"socket closed: ECONNRESET","nested":{"list":[1,"two",null],"at":"2026-01-02T03:04:05.678Z"}}',
  );
  assert.equal(JSON.parse(line).time, formatLine(record("x")).split(" ")[0], "the text line's timestamp");
});

Deno.test("formatJsonLine() puts a field named time, level, component or msg under field_<name>", () => {
  const line = formatJsonLine(
    record("m", { time: 1, level: "x", component: "y", msg: "z", field_time: 2, "0": "digit key" }),
    new Redactor(),
  );
  const parsed = JSON.parse(line);
  assert.deepEqual(
    Object.keys(parsed).slice(0, 4),
    ["0", "time", "level", "component"],
    "as JSON.parse orders",
  );
  assert.ok(line.startsWith('{"time":"2026-01-02T03:04:05.678Z","level":"warn","component":"mq","msg":"m",'));
  assert.deepEqual(
    { ...parsed, time: undefined },
    {
      time: undefined,
      level: "warn",
      component: "mq",
      msg: "m",
      field_time: 1,
      field_level: "x",
      field_component: "y",
      field_msg: "z",
      field_field_time: 2,
      "0": "digit key",
    },
  );
});

Deno.test("formatJsonLine() survives cycles, a __proto__ key and functions", () => {
  const cyclic: Record<string, unknown> = { name: "a" };
  cyclic.self = cyclic;
  const parsed = JSON.parse(
    formatJsonLine(
      record("m", { cyclic, odd: JSON.parse('{"__proto__":{"x":1}}'), fn: () => 1 }),
      new Redactor(),
    ),
  );
  assert.deepEqual(parsed.cyclic, { name: "a", self: "[Circular]" });
  assert.deepEqual(parsed.odd, { ["__proto__"]: { x: 1 } });
  assert.equal(typeof parsed.fn, "string");
});

/** A secret as it could leak: raw, JSON-escaped once and twice (a nested value in a text line), URL-encoded. */
function forms(secret: string): string[] {
  const once = JSON.stringify(secret).slice(1, -1);
  return [secret, once, JSON.stringify(once).slice(1, -1), encodeURIComponent(secret)];
}

// Secrets that JSON escapes (quote, backslash, control characters) or that are not ASCII.
const SECRETS = [
  'pa"ss"word-1',
  "back\\slash\\pw",
  "line1\nline2\ttab-pw",
  "pässwörd-日本-🔑",
  'mix"\\\n\u0001-🔑-end',
];

Deno.test("createLogger({ format: 'json' }) keeps secrets with quotes, backslashes, control characters and unicode out, raw and escaped", () => {
  const redactor = new Redactor();
  for (const secret of SECRETS) redactor.add(secret);
  for (const format of LOG_FORMATS) {
    const sink = new MemorySink();
    const log = createLogger({ sink, info: true, debug: true, redactor, format });
    for (const secret of SECRETS) {
      log.debug(`connecting with ${secret} now`, {
        password: secret,
        url: `amqp://user:${encodeURIComponent(secret)}@broker:5672`,
        wrapped: new Secret(secret),
        nested: { deeper: [`x ${secret} y`], [secret]: "as a key" },
        error: new Error(`login ${secret} refused`, { cause: new Error(`cause ${secret}`) }),
        [`key ${secret}`]: 1,
      });
      log.error(secret);
    }
    assert.equal(sink.lines.length, SECRETS.length * 2);
    for (const line of sink.lines) {
      for (const secret of SECRETS) {
        for (const form of forms(secret)) {
          assert.ok(!line.includes(form), `${format} line holds ${JSON.stringify(form)}: ${line}`);
        }
      }
      if (format === "json") {
        const parsed = JSON.parse(line);
        for (const text of strings(parsed)) {
          for (const secret of SECRETS) assert.ok(!text.includes(secret), `decoded ${text}`);
        }
        assert.ok(["debug", "error"].includes(parsed.level) && parsed.component === "main");
      }
    }
    const first = sink.lines[0]!;
    if (format === "json") {
      assert.deepEqual(JSON.parse(first).wrapped, "***");
      assert.equal(JSON.parse(first).msg, "connecting with *** now");
    } else {
      assert.match(first, / wrapped=\*\*\* /);
    }
  }
});

Deno.test("formatRecord() redacts each string before quoting it, so raw values are enough to find", () => {
  // A redactor that knows only the raw value (no escaped form): the line-level
  // pass alone would miss the secret once JSON or a nested text value escaped it.
  const secret = 'raw"only\\secret';
  const rawOnly: LineRedactor = {
    redact: (text) => text.replaceAll(secret, "***"),
    redactValues: (text) => text.replaceAll(secret, "***"),
  };
  const r = record(`msg ${secret}`, { value: secret, nested: { list: [secret] } });
  const json = formatRecord(r, "json", rawOnly);
  assert.deepEqual(JSON.parse(json).nested, { list: ["***"] });
  assert.equal(JSON.parse(json).value, "***");
  const text = formatRecord(r, "text", rawOnly);
  assert.equal(
    text,
    '2026-01-02T03:04:05.678Z WARN  [mq] msg *** value=*** nested="{\\"list\\":[\\"***\\"]}"',
  );
  for (const line of [json, text]) {
    for (const form of forms(secret)) assert.ok(!line.includes(form), line);
  }
});

Deno.test("formatJsonLine() stays JSON when a credential pattern matches across two strings", () => {
  // "wss://api.example.com" ends the message and "a@b" is a later value: the URL
  // pattern, run over the whole line, would swallow `","user":"a` as a password.
  const redactor = new Redactor();
  const line = formatJsonLine(record("Connecting to wss://api.example.com", { user: "a@b" }), redactor);
  assert.notEqual(redactor.redact(line), line, "the whole-line pass does match across the strings");
  assert.deepEqual(JSON.parse(line), {
    time: "2026-01-02T03:04:05.678Z",
    level: "warn",
    component: "mq",
    msg: "Connecting to wss://api.example.com",
    user: "a@b",
  });
});

Deno.test("formatJsonLine() withholds the fields when a secret shows only in the line's escapes", () => {
  // The secret `n"x-secret` is in no string; escaping a newline before `"x-secret` makes it appear.
  const redactor = new Redactor();
  redactor.add('n\\"x-secret');
  const line = formatJsonLine(record("m", { value: '\n"x-secret' }), redactor);
  assert.ok(!line.includes('n\\"x-secret'), line);
  assert.deepEqual(JSON.parse(line), {
    time: "2026-01-02T03:04:05.678Z",
    level: "warn",
    component: "mq",
    msg: "m",
    log_fields: "fields withheld: the redactor matched across them",
  });
});

Deno.test("formatRecord() text is formatLine redacted, byte for byte", () => {
  const redactor = new Redactor();
  redactor.add("topsecret");
  const r = record("url amqp://u:topsecret@h", { n: 1, s: "a b" });
  assert.equal(formatRecord(r, "text", redactor), redactor.redact(formatLine(r)));
  assert.equal(
    formatRecord(r, "text", redactor),
    '2026-01-02T03:04:05.678Z WARN  [mq] url amqp://u:***@h n=1 s="a b"',
  );
});
