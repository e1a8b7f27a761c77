import assert from "node:assert/strict";
import {
  createLogger,
  DeferredSink,
  errorText,
  formatLine,
  formatRecord,
  MemorySink,
} from "../../lib/log.ts";
import { Redactor, Secret } from "../../lib/secret.ts";

function logAll(info: boolean, debug: boolean): string[] {
  const sink = new MemorySink();
  const log = createLogger({ sink, info, debug });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  return sink.records.map((r) => r.level);
}

Deno.test("createLogger() always writes WARN and ERROR; -v adds INFO and -d adds DEBUG, independently", () => {
  assert.deepEqual(logAll(false, false), ["warn", "error"]);
  assert.deepEqual(logAll(true, false), ["info", "warn", "error"]);
  assert.deepEqual(logAll(false, true), ["debug", "warn", "error"]);
  assert.deepEqual(logAll(true, true), ["debug", "info", "warn", "error"]);
});

Deno.test("formatLine() writes time, level, component, message and key=value fields on one line", () => {
  const line = formatLine({
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    level: "warn",
    component: "mq",
    message: "Lost the broker connection",
    fields: { attempt: 2, queue: "to ws", ok: true, missing: undefined },
  });
  assert.equal(
    line,
    '2026-01-02T03:04:05.678Z WARN  [mq] Lost the broker connection attempt=2 queue="to ws" ok=true',
  );
});

Deno.test("createLogger() child loggers name their component", () => {
  const sink = new MemorySink();
  createLogger({ sink, info: true, debug: false }).child("ws").info("Connected");
  assert.match(sink.lines[0]!, / INFO {2}\[ws\] Connected$/);
});

Deno.test("createLogger() scrubs secrets from messages and fields at every level", () => {
  const sink = new MemorySink();
  const redactor = new Redactor();
  redactor.add("topsecret-pass");
  const log = createLogger({ sink, info: true, debug: true, redactor });
  log.debug("url amqp://u:topsecret-pass@h", {
    url: "wss://h/ws?jwt=eyJa.eyJb.sig",
    secret: new Secret("x"),
  });
  log.error("failed", { error: new Error("login topsecret-pass refused") });
  assert.ok(!sink.text.includes("topsecret-pass") && !sink.text.includes("eyJa"), sink.text);
  assert.match(sink.text, /secret=\*\*\*/);
});

Deno.test("errorText() joins an error's causes and skips repeats", () => {
  const root = new Error("connect ECONNREFUSED 127.0.0.1:5672");
  const err = new Error("Cannot connect to broker", { cause: new Error("socket closed", { cause: root }) });
  assert.equal(
    errorText(err),
    "Cannot connect to broker: socket closed: connect ECONNREFUSED 127.0.0.1:5672",
  );
  assert.equal(errorText(new Error("same", { cause: new Error("same") })), "same");
  assert.equal(errorText("plain"), "plain");
});

Deno.test("DeferredSink holds lines until it is attached, then passes everything on in order", () => {
  const deferred = new DeferredSink();
  const log = createLogger({ sink: deferred, info: true, debug: false });
  log.info("before");
  const target = new MemorySink();
  deferred.attach(target);
  log.info("after");
  assert.deepEqual(target.records.map((r) => r.message), ["before", "after"]);
});

Deno.test("createLogger({ format: 'json' }) writes one JSON object per line, child loggers included; text stays the default", () => {
  const sink = new MemorySink();
  const now = () => Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  createLogger({ sink, info: true, debug: false, now, format: "json" }).child("ws").info("Connected", {
    conn: 1,
  });
  createLogger({ sink, info: true, debug: false, now }).info("Connected", { conn: 1 });
  assert.deepEqual(sink.lines, [
    '{"time":"2026-01-02T03:04:05.678Z","level":"info","component":"ws","msg":"Connected","conn":1}',
    "2026-01-02T03:04:05.678Z INFO  [main] Connected conn=1",
  ]);
  assert.deepEqual(
    sink.records.map((r) => r.fields),
    [{ conn: 1 }, { conn: 1 }],
    "the sink gets the record too",
  );
});

Deno.test("DeferredSink.attach() can write the held lines again in another format, redacted", () => {
  const deferred = new DeferredSink();
  const redactor = new Redactor();
  const log = createLogger({ sink: deferred, info: true, debug: false, redactor });
  log.info("held", { password: "late-secret" });
  redactor.add("late-secret"); // registered after the line was logged, as the configuration's secrets are
  const target = new MemorySink();
  deferred.attach(target, (record) => formatRecord(record, "json", redactor));
  log.info("after");
  assert.equal(JSON.parse(target.lines[0]!).password, "***");
  assert.equal(JSON.parse(target.lines[0]!).msg, "held");
  assert.match(target.lines[1]!, / INFO {2}\[main\] after$/, "lines after attach are the logger's own");
});
