import assert from "node:assert/strict";
import { withDeadline } from "../_ws_server.ts";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DescribeLogGroupsCommand,
  GetLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { type CloudWatchLogsOptions, openCloudWatchLogs } from "../../handlers/aws/cloudwatch_logs.ts";
import { createLogger, type LogRecord } from "../../lib/log.ts";
import { Redactor } from "../../lib/secret.ts";
import { EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES, MAX_EVENT_BYTES } from "../../handlers/aws/log_batch.ts";
import {
  awsEnv,
  deadEndpoint,
  type FakeAws,
  json,
  startAwsProxy,
  startFakeAws,
  startMoto,
  startSilentServer,
  throttled,
  unavailable,
  unique,
} from "../_aws.ts";

const REGION = "us-east-1";
const at = (time: number): LogRecord => ({ time, level: "info", component: "test", message: "" });

function options(extra: Partial<CloudWatchLogsOptions> = {}) {
  const fallback: string[] = [];
  return {
    fallback,
    options: {
      region: REGION,
      logGroup: unique("/test/bridge"),
      logStream: unique("stream"),
      retentionDays: 14,
      flushIntervalMs: 60_000, // tests flush explicitly
      retryDelayMs: 10,
      fallback: (line: string) => fallback.push(line),
      ...extra,
    },
  };
}

/** Every message PutLogEvents carried, in call order. */
function sent(fake: FakeAws): string[] {
  return fake.of("PutLogEvents").flatMap((c) => c.body.logEvents.map((e: { message: string }) => e.message));
}

Deno.test("openCloudWatchLogs() creates group and stream, sets retention, delivers lines in order", async () => {
  await using moto = await startMoto();
  await using front = startFakeAws(undefined, moto.endpoint);
  // The per-service variable wins over AWS_ENDPOINT_URL, which points nowhere.
  using _env = awsEnv({ AWS_ENDPOINT_URL: deadEndpoint(), AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: front.endpoint });
  const { options: o, fallback } = options();
  const sink = await openCloudWatchLogs(o);
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) sink.write(`line ${i}`, at(t0 + (i === 3 ? -1_000 : i))); // one clock step back
  await sink.close();
  await sink.close(); // twice is fine

  assert.deepEqual(front.calls.slice(0, 3).map((c) => c.operation), [
    "CreateLogGroup",
    "PutRetentionPolicy",
    "CreateLogStream",
  ]);
  assert.equal(front.of("PutRetentionPolicy")[0]?.body.retentionInDays, 14);
  assert.deepEqual(fallback, []);
  const client = new CloudWatchLogsClient({ region: REGION, endpoint: moto.endpoint });
  try {
    const out = await client.send(
      new GetLogEventsCommand({ logGroupName: o.logGroup, logStreamName: o.logStream, startFromHead: true }),
    );
    assert.deepEqual(out.events?.map((e) => e.message), ["line 0", "line 1", "line 2", "line 3", "line 4"]);
    const stamps = out.events!.map((e) => e.timestamp!);
    assert.deepEqual(stamps, [...stamps].sort((a, b) => a - b), "chronological");
    const groups = await client.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: o.logGroup }));
    assert.equal(groups.logGroups?.[0]?.retentionInDays, 14);
  } finally {
    client.destroy();
  }

  // Group and stream exist now: opening again ignores ResourceAlreadyExists.
  await using again = await openCloudWatchLogs(o);
  again.write("line 5", at(Date.now()));
  await again.flush();
  assert.deepEqual(fallback, []);
  assert.equal(again.stats.sent, 1);
});

Deno.test("openCloudWatchLogs() splits batches at 10,000 events", async () => {
  await using fake = startFakeAws();
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  const { options: o, fallback } = options();
  await using sink = await openCloudWatchLogs(o);
  const now = Date.now();
  for (let i = 0; i < 20_001; i++) sink.write(`event ${i}`, at(now));
  await sink.flush();

  const batches = fake.of("PutLogEvents").map((c) => c.body.logEvents.length);
  assert.deepEqual(batches, [10_000, 10_000, 1]);
  assert.deepEqual(sent(fake), Array.from({ length: 20_001 }, (_, i) => `event ${i}`));
  assert.deepEqual(fallback, []);
});

Deno.test("openCloudWatchLogs() splits batches at 1,048,576 bytes counting 26 bytes per event", async () => {
  await using fake = startFakeAws();
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  const { options: o } = options();
  await using sink = await openCloudWatchLogs(o);
  // 8 events of exactly MAX_BATCH_BYTES / 8 bytes (overhead included) fill one batch to the byte.
  const exact = "x".repeat(MAX_BATCH_BYTES / 8 - EVENT_OVERHEAD_BYTES);
  for (let i = 0; i < 9; i++) sink.write(exact, at(Date.now()));
  // Multi-byte text counts in UTF-8 bytes; an oversized line is cut to the event limit.
  for (let i = 0; i < 5; i++) sink.write("é".repeat(100_000), at(Date.now())); // 200,000 bytes each
  sink.write("y".repeat(MAX_EVENT_BYTES * 2), at(Date.now()));
  await sink.flush();

  const batches = fake.of("PutLogEvents").map((c) => c.body.logEvents as { message: string }[]);
  const bytes = (events: { message: string }[]) =>
    events.reduce((n, e) => n + new TextEncoder().encode(e.message).length + EVENT_OVERHEAD_BYTES, 0);
  assert.equal(batches[0]?.length, 8);
  assert.equal(bytes(batches[0]!), MAX_BATCH_BYTES);
  assert.ok(batches.every((b) => bytes(b) <= MAX_BATCH_BYTES));
  assert.deepEqual(batches.map((b) => b.length), [8, 5, 2]); // 1 + 4×200,026 | 1×200,026 + the cut line
  const last = batches[2]![1]!.message;
  assert.ok(last.endsWith("...[truncated]") && new TextEncoder().encode(last).length <= MAX_EVENT_BYTES - 26);
});

Deno.test("openCloudWatchLogs() retries throttling and 5xx, then delivers every line once", async () => {
  let puts = 0;
  await using fake = startFakeAws((call) => {
    if (call.operation !== "PutLogEvents") return undefined;
    puts++;
    return puts <= 2 ? throttled() : puts <= 5 ? unavailable() : undefined;
  });
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  const { options: o, fallback } = options();
  await using sink = await openCloudWatchLogs(o);
  for (let i = 0; i < 3; i++) sink.write(`line ${i}`, at(Date.now()));
  await sink.flush();

  assert.ok(puts >= 6, `${puts} PutLogEvents calls`);
  assert.deepEqual(
    fake.of("PutLogEvents").at(-1)?.body.logEvents.map((e: { message: string }) => e.message),
    [
      "line 0",
      "line 1",
      "line 2",
    ],
  );
  assert.deepEqual(fallback, []);
  assert.equal(sink.stats.sent, 3);
});

Deno.test("openCloudWatchLogs() writes lines to the fallback, and says so once, when CloudWatch keeps failing", async () => {
  await using fake = startFakeAws((call) => call.operation === "PutLogEvents" ? unavailable() : undefined);
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  const { options: o, fallback } = options({ batchAttempts: 2, maxAttempts: 1, flushIntervalMs: 20 });
  const sink = await openCloudWatchLogs(o);
  const callsBefore = fake.calls.length;
  for (let i = 0; i < 1_000; i++) sink.write(`line ${i}`, at(Date.now()));
  assert.equal(fake.calls.length, callsBefore, "write() only buffers: no request is made inline");
  await sink.close();

  const notices = fallback.filter((l) => l.includes("[cloudwatch]"));
  assert.equal(notices.length, 1, notices.join("\n"));
  assert.match(notices[0]!, /Cannot send log lines to CloudWatch Logs group .* writing them to stderr/);
  assert.deepEqual(
    fallback.filter((l) => !l.includes("[cloudwatch]")),
    Array.from({ length: 1_000 }, (_, i) => `line ${i}`),
  );
  assert.equal(sink.stats.spilled, 1_000);
});

Deno.test("openCloudWatchLogs() neither blocks nor loses lines when the endpoint never answers", async () => {
  await using silent = startSilentServer();
  using _env = awsEnv({ AWS_ENDPOINT_URL: silent.endpoint });
  const { options: o, fallback } = options({
    setupTimeoutMs: 200,
    closeTimeoutMs: 300,
    maxBufferedEvents: 10,
  });
  // The endpoint never answers: open() must give up its set-up at setupTimeoutMs, not hang.
  const sink = await withDeadline(openCloudWatchLogs(o), 10_000, "open() to give up the set-up");
  for (let i = 0; i < 25; i++) sink.write(`line ${i}`, at(Date.now()));
  // The buffer holds 10; the other 15 went to the fallback at once, after one notice.
  assert.equal(fallback.filter((l) => /^line /.test(l)).length, 15);
  assert.equal(fallback.filter((l) => l.includes("buffer is full")).length, 1);
  await withDeadline(sink.close(), 10_000, "close() to give up at closeTimeoutMs");
  assert.ok(
    fallback.some((l) => l.includes("did not take the last lines within 300 ms")),
    "close() stopped at closeTimeoutMs, and says so",
  );

  const lines = fallback.filter((l) => /^line /.test(l)).sort((a, b) => +a.slice(5) - +b.slice(5));
  assert.deepEqual(lines, Array.from({ length: 25 }, (_, i) => `line ${i}`));
  sink.write("after close", at(Date.now()));
  assert.equal(fallback.at(-1), "after close");
});

Deno.test("openCloudWatchLogs() recreates a deleted stream and says once when CloudWatch recovers", async () => {
  let puts = 0;
  let down = false;
  const delivered: string[] = [];
  await using fake = startFakeAws((call) => {
    if (call.operation !== "PutLogEvents") return undefined;
    puts++;
    if (puts === 1) return json("The specified log stream does not exist.", 400, "ResourceNotFoundException");
    if (down) return unavailable();
    delivered.push(...call.body.logEvents.map((e: { message: string }) => e.message));
    return undefined;
  });
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  const { options: o, fallback } = options({ batchAttempts: 2, maxAttempts: 1 });
  await using sink = await openCloudWatchLogs(o);
  sink.write("first", at(Date.now()));
  await sink.flush();
  assert.equal(fake.of("CreateLogStream").length, 2, "stream created again after ResourceNotFound");
  assert.deepEqual(delivered, ["first"]);

  down = true;
  sink.write("while down", at(Date.now()));
  await sink.flush();
  down = false;
  sink.write("after", at(Date.now()));
  await sink.flush();
  await sink.close();

  assert.deepEqual(fallback.filter((l) => !l.includes("[cloudwatch]")), ["while down"]);
  assert.equal(fallback.filter((l) => l.includes("[cloudwatch]")).length, 2, fallback.join("\n"));
  assert.match(fallback.at(-1)!, /accepts lines again; 1 line\(s\) so far went to stderr/);
  // The recovery notice is also sent to CloudWatch, after the line that triggered it.
  assert.deepEqual(delivered.slice(0, 2), ["first", "after"]);
  assert.match(delivered[2]!, /accepts lines again/);
});

/** The messages moto holds in `group`/`stream`, oldest first. */
async function stored(endpoint: string, group: string, stream: string): Promise<string[]> {
  const client = new CloudWatchLogsClient({ region: REGION, endpoint });
  try {
    const out = await client.send(
      new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true }),
    );
    return (out.events ?? []).map((e) => e.message ?? "");
  } finally {
    client.destroy();
  }
}

/** Creates the group and stream the way CloudFormation or Terraform would, before the service runs. */
async function precreate(endpoint: string, group: string, stream: string): Promise<void> {
  const client = new CloudWatchLogsClient({ region: REGION, endpoint });
  try {
    await client.send(new CreateLogGroupCommand({ logGroupName: group }));
    await client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
  } finally {
    client.destroy();
  }
}

/** A role that may only PutLogEvents. */
const SETUP_DENIED = {
  CreateLogGroup: "logs:CreateLogGroup",
  PutRetentionPolicy: "logs:PutRetentionPolicy",
  CreateLogStream: "logs:CreateLogStream",
};

Deno.test("openCloudWatchLogs() under a role that may only PutLogEvents: one WARN per denied set-up call, every line delivered", async () => {
  await using moto = await startMoto();
  await using proxy = startAwsProxy(moto.endpoint, { deny: SETUP_DENIED });
  using _env = awsEnv({ AWS_ENDPOINT_URL: proxy.endpoint });
  const { options: o, fallback } = options();
  await precreate(moto.endpoint, o.logGroup, o.logStream);

  const sink = await openCloudWatchLogs(o);
  for (let i = 0; i < 3; i++) sink.write(`line ${i}`, at(Date.now()));
  await sink.flush();
  for (let i = 3; i < 5; i++) sink.write(`line ${i}`, at(Date.now()));
  await sink.flush();
  await sink.close();

  assert.deepEqual(fallback, [], "nothing on stderr: PutLogEvents works");
  for (const operation of Object.keys(SETUP_DENIED)) {
    assert.equal(proxy.of(operation).length, 1, `${operation} tried once, not before every batch`);
  }
  assert.ok(proxy.of("PutLogEvents").length >= 2);
  const lines = await stored(moto.endpoint, o.logGroup, o.logStream);
  const warnings = lines.filter((l) => l.includes("WARN  [cloudwatch]"));
  assert.equal(warnings.length, 3, warnings.join("\n"));
  assert.match(warnings[0]!, /Cannot create log group ".*": access denied .*allow logs:CreateLogGroup/);
  assert.match(
    warnings[1]!,
    /Cannot set the retention of log group .* to 14 days: .*allow logs:PutRetentionPolicy/,
  );
  assert.match(warnings[2]!, /Cannot create log stream ".*": access denied .*allow logs:CreateLogStream/);
  assert.deepEqual(lines.filter((l) => /^line /.test(l)), ["line 0", "line 1", "line 2", "line 3", "line 4"]);
  assert.equal(sink.stats.sent, 8);
});

Deno.test("openCloudWatchLogs({ format: 'json' }): the logger's JSON lines and the sink's own arrive as JSON, without secrets", async () => {
  await using moto = await startMoto();
  await using proxy = startAwsProxy(moto.endpoint, { deny: SETUP_DENIED }); // for the sink's own WARN lines
  using _env = awsEnv({ AWS_ENDPOINT_URL: proxy.endpoint });
  const { options: o, fallback } = options({ format: "json" });
  await precreate(moto.endpoint, o.logGroup, o.logStream);
  const secret = 'pw"with\\quote\nand-🔑';
  const redactor = new Redactor();
  redactor.add(secret);

  const sink = await openCloudWatchLogs(o);
  const log = createLogger({ sink, info: true, debug: true, redactor, format: "json" }).child("mq");
  log.info("Connected to the broker", { url: `amqp://u:${encodeURIComponent(secret)}@h`, attempt: 1 });
  log.debug("Sent to WebSocket", { password: secret, bytes: 5, text: true });
  await sink.close();

  assert.deepEqual(fallback, []);
  const lines = await stored(moto.endpoint, o.logGroup, o.logStream);
  assert.equal(lines.length, 5, lines.join("\n")); // 3 denied set-up calls, then the 2 logged lines
  const parsed = lines.map((line) => JSON.parse(line));
  for (const [i, line] of lines.entries()) {
    const { time, level, component, msg } = parsed[i];
    assert.equal(new Date(time).toISOString(), time, line);
    assert.ok(typeof level === "string" && typeof component === "string" && typeof msg === "string", line);
    for (const form of [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)]) {
      assert.ok(!line.includes(form), line);
    }
  }
  assert.deepEqual(
    parsed.slice(0, 3).map((p) => [p.level, p.component]),
    Array(3).fill(["warn", "cloudwatch"]),
  );
  assert.match(parsed[0].msg, /Cannot create log group ".*": access denied .*allow logs:CreateLogGroup/);
  assert.deepEqual(
    parsed.slice(3).map(({ time: _, ...rest }) => rest),
    [
      { level: "info", component: "mq", msg: "Connected to the broker", url: "amqp://u:***@h", attempt: 1 },
      { level: "debug", component: "mq", msg: "Sent to WebSocket", password: "***", bytes: 5, text: true },
    ],
  );
});

Deno.test("openCloudWatchLogs() sends lines to stderr, naming the permission, only when PutLogEvents fails", async () => {
  await using moto = await startMoto();
  await using proxy = startAwsProxy(moto.endpoint, { deny: SETUP_DENIED });
  using _env = awsEnv({ AWS_ENDPOINT_URL: proxy.endpoint });

  // The group was never created and may not be: PutLogEvents finds nothing.
  const missing = options();
  const sink = await openCloudWatchLogs(missing.options);
  sink.write("nowhere to go", at(Date.now()));
  await sink.close();
  const notices = missing.fallback.filter((l) => l.includes("Cannot send log lines"));
  assert.equal(notices.length, 1, missing.fallback.join("\n"));
  assert.match(notices[0]!, /ResourceNotFoundException.*create them beforehand \(logs:CreateLogGroup, /);
  assert.ok(missing.fallback.includes("nowhere to go"));
  assert.equal(proxy.of("CreateLogGroup").length, 1, "a denied set-up call is not tried again");

  // PutLogEvents itself denied.
  const denied = options();
  await precreate(moto.endpoint, denied.options.logGroup, denied.options.logStream);
  proxy.rules = { deny: { ...SETUP_DENIED, PutLogEvents: "logs:PutLogEvents" } };
  const refused = await openCloudWatchLogs(denied.options);
  refused.write("refused", at(Date.now()));
  await refused.close();
  const why = denied.fallback.filter((l) => l.includes("Cannot send log lines"));
  assert.equal(why.length, 1, denied.fallback.join("\n"));
  assert.match(why[0]!, /access denied .*allow logs:PutLogEvents in the IAM policy/);
  assert.ok(denied.fallback.includes("refused"));
});

Deno.test("openCloudWatchLogs() during an outage writes a batch to stderr within failingAttemptMs, not after the SDK's retries", async () => {
  await using silent = startSilentServer();
  using _env = awsEnv({ AWS_ENDPOINT_URL: silent.endpoint });
  const { options: o, fallback } = options({
    setupTimeoutMs: 200,
    failingAttemptMs: 300,
    closeTimeoutMs: 300,
  });
  const sink = await openCloudWatchLogs(o); // set-up times out: failing from the start
  sink.write("during the outage", at(Date.now()));
  const started = performance.now();
  await sink.flush();
  const ms = performance.now() - started;
  await sink.close();
  assert.ok(fallback.includes("during the outage"));
  // The SDK alone would wait 3 attempts of 5 s each.
  assert.ok(ms < 1_500, `the line reached stderr after ${ms.toFixed(0)} ms`);
});
