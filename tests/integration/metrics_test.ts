import assert from "node:assert/strict";
import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { startMetricsPublisher } from "../../handlers/aws/cloudwatch_metrics.ts";
import { imdsInstanceId } from "../../handlers/aws/imds.ts";
import { createLogger, MemorySink } from "../../lib/log.ts";
import * as M from "../../lib/metrics.ts";
import {
  type AwsCall,
  awsEnv,
  deadEndpoint,
  ORIGINAL_METRICS,
  startAwsProxy,
  startFakeAws,
  startImds,
  startMoto,
  startSilentServer,
  unavailable,
  unique,
  waitFor,
} from "../_aws.ts";

const REGION = "us-east-1";

function logger() {
  const sink = new MemorySink();
  return { sink, log: createLogger({ sink, info: true, debug: false }) };
}

/** `{ name: { Value, Unit } }` of one PutMetricData call. */
function byName(call: AwsCall): Record<string, { Value: number; Unit: string }> {
  const out: Record<string, { Value: number; Unit: string }> = {};
  for (const d of call.body.MetricData) out[d.MetricName] = { Value: d.Value, Unit: d.Unit };
  return out;
}

Deno.test("startMetricsPublisher() sends one PutMetricData per interval with names, units and dimensions", async () => {
  await using moto = await startMoto();
  await using front = startFakeAws(undefined, moto.endpoint);
  await using imds = startImds({ instanceId: unique("i") });
  using _env = awsEnv({ AWS_ENDPOINT_URL: deadEndpoint(), AWS_ENDPOINT_URL_CLOUDWATCH: front.endpoint });
  const registry = new M.MetricsRegistry();
  registry.count(M.TO_WS_TOTAL, 3);
  registry.gauge(M.FROM_WS_BUFFERED, () => 7);
  registry.observe(M.FROM_WS_CONFIRM_SECONDS, 0.002);
  const { log, sink } = logger();
  const namespace = unique("test/bridge");
  const publisher = await startMetricsPublisher({
    region: REGION,
    namespace,
    resolutionSecs: 1,
    source: registry,
    log,
    instanceId: () => imdsInstanceId({ endpoint: imds.endpoint }),
  });
  const instanceId = publisher.dimensions.instance_id;
  assert.match(instanceId, /^i-/);

  await waitFor(() => front.of("PutMetricData").length >= 2, 5_000, "two PutMetricData calls");
  const [first, second] = front.of("PutMetricData");
  assert.ok(second!.time - first!.time >= 900, "one call per interval, not one per metric");
  await publisher.close();
  await publisher.close();

  const names = Object.keys(byName(first!));
  for (
    const name of [
      ...ORIGINAL_METRICS,
      M.FROM_WS_BUFFERED,
      M.FROM_WS_DROPPED_TOTAL,
      M.CW_METRICS_PUBLISH_FAILURES_TOTAL,
    ]
  ) {
    assert.ok(names.includes(name), `${name} is published`);
  }
  assert.deepEqual(names.filter((name) => name.startsWith(M.FROM_WS_CONFIRM_SECONDS)), [], "no histogram");
  for (const datum of first!.body.MetricData) {
    assert.deepEqual(datum.Dimensions, [{ Name: "instance_id", Value: instanceId }, {
      Name: "pid",
      Value: String(Deno.pid),
    }]);
    assert.equal(datum.StorageResolution, 1);
    assert.equal(datum.Unit, datum.MetricName.endsWith("_persecond") ? "Count/Second" : "Count");
  }
  assert.equal(first!.body.Namespace, namespace);
  assert.equal(byName(first!).to_ws_total?.Value, 3);
  assert.equal(byName(first!).from_ws_buffered?.Value, 7);
  assert.deepEqual(sink.lines, []);

  // moto stored them under the dimensions.
  const client = new CloudWatchClient({ region: REGION, endpoint: moto.endpoint });
  try {
    const dims = [{ Name: "instance_id", Value: instanceId }, { Name: "pid", Value: String(Deno.pid) }];
    const listed = await client.send(
      new ListMetricsCommand({ Namespace: namespace, MetricName: "to_ws_total" }),
    );
    assert.deepEqual(listed.Metrics?.[0]?.Dimensions, dims);
    const end = new Date(Date.now() + 60_000);
    const out = await client.send(
      new GetMetricDataCommand({
        StartTime: new Date(end.getTime() - 600_000),
        EndTime: end,
        MetricDataQueries: [{
          Id: "q",
          MetricStat: {
            Metric: { Namespace: namespace, MetricName: "to_ws_total", Dimensions: dims },
            Period: 1,
            Stat: "Maximum",
          },
        }],
      }),
    );
    assert.ok(out.MetricDataResults?.[0]?.Values?.includes(3));
  } finally {
    client.destroy();
  }
});

Deno.test("startMetricsPublisher() derives persecond and recent values from counter deltas", async () => {
  await using fake = startFakeAws();
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  let clock = 1_000_000;
  const registry = new M.MetricsRegistry();
  await using publisher = await startMetricsPublisher({
    region: REGION,
    namespace: "test",
    resolutionSecs: 60,
    source: registry,
    log: logger().log,
    now: () => clock,
    hostname: "box",
    pid: 42,
  });
  registry.count(M.TO_WS_TOTAL, 10);
  registry.count(M.FROM_WS_TOTAL, 4);
  registry.count(M.MQ_CONNECTION_ATTEMPTS_TOTAL, 1);
  registry.count(M.WS_CONNECTION_ATTEMPTS_TOTAL, 2);
  clock += 2_000;
  assert.equal(await publisher.publish(), true);
  registry.count(M.TO_WS_TOTAL, 4);
  registry.count(M.WS_CONNECTION_ATTEMPTS_TOTAL, 1);
  clock += 4_000;
  assert.equal(await publisher.publish(), true);

  const [a, b] = fake.of("PutMetricData").map(byName);
  assert.deepEqual(
    ORIGINAL_METRICS.map((name) => [name, a?.[name]?.Value]),
    [
      ["to_ws_total", 10],
      ["to_ws_persecond", 5],
      ["from_ws_total", 4],
      ["from_ws_persecond", 2],
      ["mq_connection_attempts_total", 1],
      ["mq_connection_attempts_recent", 1],
      ["ws_connection_attempts_total", 2],
      ["ws_connection_attempts_recent", 2],
    ],
  );
  assert.deepEqual(
    ORIGINAL_METRICS.map((name) => [name, b?.[name]?.Value]),
    [
      ["to_ws_total", 14],
      ["to_ws_persecond", 1],
      ["from_ws_total", 4],
      ["from_ws_persecond", 0],
      ["mq_connection_attempts_total", 1],
      ["mq_connection_attempts_recent", 0],
      ["ws_connection_attempts_total", 3],
      ["ws_connection_attempts_recent", 1],
    ],
  );
  const datum = fake.of("PutMetricData")[0]!.body.MetricData[0];
  assert.equal(datum.StorageResolution, 60);
  assert.deepEqual(datum.Dimensions, [{ Name: "instance_id", Value: "local-box" }, {
    Name: "pid",
    Value: "42",
  }]);
});

Deno.test("startMetricsPublisher() uses local-<hostname> when no metadata service answers", async () => {
  using _env = awsEnv({ AWS_ENDPOINT_URL: deadEndpoint() });
  await using silent = startSilentServer();
  await using publisher = await startMetricsPublisher({
    region: REGION,
    namespace: "test",
    resolutionSecs: 60,
    source: new M.MetricsRegistry(),
    log: logger().log,
    instanceId: () => imdsInstanceId({ endpoint: silent.endpoint, timeoutMs: 200 }),
    closeTimeoutMs: 200,
  });
  assert.deepEqual(publisher.dimensions, { instance_id: `local-${Deno.hostname()}`, pid: String(Deno.pid) });
});

Deno.test("startMetricsPublisher() logs and counts failures without throwing, and recovers", async () => {
  let failing = true;
  await using fake = startFakeAws(() => failing ? unavailable() : undefined);
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  const { log, sink } = logger();
  const registry = new M.MetricsRegistry();
  await using publisher = await startMetricsPublisher({
    region: REGION,
    namespace: "test",
    resolutionSecs: 60,
    source: registry,
    log,
    maxAttempts: 1,
  });
  assert.equal(await publisher.publish(), false);
  assert.equal(await publisher.publish(), false);
  assert.equal(publisher.stats.failures, 2);
  assert.equal(sink.records.filter((r) => r.level === "warn").length, 1, sink.text);
  assert.match(sink.text, /Cannot publish metrics to CloudWatch.*ServiceUnavailable/);
  failing = false;
  assert.equal(await publisher.publish(), true);
  assert.equal(byName(fake.calls.at(-1)!)[M.CW_METRICS_PUBLISH_FAILURES_TOTAL]?.Value, 2);
  assert.equal(registry.counter(M.CW_METRICS_PUBLISH_FAILURES_TOTAL), 2, "counted in the registry");
  assert.match(sink.lines.at(-1)!, /works again/);
});

Deno.test("MetricsPublisher.close() sends a final call, within its deadline even when CloudWatch hangs", async () => {
  await using fake = startFakeAws();
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  const registry = new M.MetricsRegistry();
  const publisher = await startMetricsPublisher({
    region: REGION,
    namespace: "test",
    resolutionSecs: 60,
    source: registry,
    log: logger().log,
  });
  registry.count(M.FROM_WS_DROPPED_TOTAL, 5);
  await publisher.close();
  assert.equal(fake.of("PutMetricData").length, 1);
  assert.equal(byName(fake.calls[0]!)[M.FROM_WS_DROPPED_TOTAL]?.Value, 5);

  await using silent = startSilentServer();
  const { log, sink } = logger();
  const stuck = await startMetricsPublisher({
    region: REGION,
    namespace: "test",
    resolutionSecs: 60,
    source: registry,
    log,
    endpoint: silent.endpoint,
    closeTimeoutMs: 200,
  });
  const started = performance.now();
  await stuck.close();
  assert.ok(performance.now() - started < 1_000);
  assert.match(sink.text, /Cannot publish the final metrics/);
});

Deno.test("startMetricsPublisher() under a role without cloudwatch:PutMetricData: a WARN naming it, then at most one per warnEveryMs", async () => {
  await using moto = await startMoto();
  await using proxy = startAwsProxy(moto.endpoint, { deny: { PutMetricData: "cloudwatch:PutMetricData" } });
  using _env = awsEnv({ AWS_ENDPOINT_URL: proxy.endpoint });
  let clock = Date.now();
  const { log, sink } = logger();
  const namespace = unique("test/denied");
  await using publisher = await startMetricsPublisher({
    region: REGION,
    namespace,
    resolutionSecs: 60, // the test publishes by itself
    source: new M.MetricsRegistry(),
    log,
    now: () => clock,
    warnEveryMs: 300_000,
  });
  const warnings = () =>
    sink.records.filter((r) => r.level === "warn").map((r) => sink.lines[sink.records.indexOf(r)]!);

  for (let i = 0; i < 3; i++) {
    clock += 60_000;
    assert.equal(await publisher.publish(), false);
  }
  assert.equal(warnings().length, 1, sink.text);
  assert.match(
    warnings()[0]!,
    /Cannot publish metrics to CloudWatch.*access denied .*allow cloudwatch:PutMetricData/,
  );
  clock += 180_000; // 5 minutes since the first WARN
  assert.equal(await publisher.publish(), false);
  clock += 60_000;
  assert.equal(await publisher.publish(), false);
  assert.equal(warnings().length, 2, sink.text);
  assert.match(warnings()[1]!, /still .*cloudwatch:PutMetricData.* failures=3/);
  assert.equal(publisher.stats.failures, 5);

  proxy.rules = {};
  clock += 60_000;
  assert.equal(await publisher.publish(), true);
  assert.match(sink.lines.at(-1)!, /works again/);
  const client = new CloudWatchClient({ region: REGION, endpoint: moto.endpoint });
  try {
    const listed = await client.send(
      new ListMetricsCommand({ Namespace: namespace, MetricName: "to_ws_total" }),
    );
    assert.equal(listed.Metrics?.length, 1, "published once allowed");
  } finally {
    client.destroy();
  }
});

Deno.test("MetricsPublisher.close() keeps its deadline when a call is already in flight and never answered", async () => {
  await using moto = await startMoto();
  await using proxy = startAwsProxy(moto.endpoint, { hang: ["PutMetricData"] });
  using _env = awsEnv({ AWS_ENDPOINT_URL: proxy.endpoint });
  const { log, sink } = logger();
  const publisher = await startMetricsPublisher({
    region: REGION,
    namespace: "test",
    resolutionSecs: 60,
    source: new M.MetricsRegistry(),
    log,
  });
  const inFlight = publisher.publish();
  await waitFor(() => proxy.of("PutMetricData").length === 1, 5_000, "the call to reach the proxy");
  const started = performance.now();
  await publisher.close(300);
  const ms = performance.now() - started;
  assert.equal(await inFlight, false);
  assert.ok(ms < 1_000, `close(300) took ${ms.toFixed(0)} ms`);
  assert.match(sink.text, /Cannot publish the final metrics/);
});
