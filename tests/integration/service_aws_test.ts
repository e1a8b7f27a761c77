/**
 * The whole service as operators run it, `mq2wsbridge -s -l -m`, spawned as
 * a process against the local broker, a local WebSocket server and moto
 * (Parameter Store, CloudWatch Logs, CloudWatch metrics and IMDSv2): the
 * configuration lives only in the parameter store (put there by -M), and
 * the log lines and metrics arrive in CloudWatch.
 */
import assert from "node:assert/strict";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DescribeLogGroupsCommand,
  GetLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { CloudWatchClient, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { bridgeValues, spawnBridge, TEST_CLIENT_SECRET, TEST_PASSWORD, writeIni } from "../_bridge.ts";
import { openBroker } from "../_broker.ts";
import { childAwsEnv, ORIGINAL_METRICS, startAwsProxy, startMoto, unique, waitFor } from "../_aws.ts";
import { startWsServer } from "../_ws_server.ts";

Deno.test("mq2wsbridge -s -l -m runs from Parameter Store filled by -M, logging and measuring to CloudWatch [integration]", async () => {
  await using moto = await startMoto();
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  const group = `/test/${unique("bridge")}`;
  const namespace = `test/${unique("bridge")}`;
  await using ini = await writeIni({
    ...bridgeValues({ toWs, fromWs, wsUrl: server.url, mqUrl: "amqp://127.0.0.1:5672" }),
    "aws_mq.mq_user_id": "guest",
    "aws_mq.mq_password": "guest",
    "aws_cloudwatch.cw_region": "us-east-1",
    "aws_cloudwatch.cw_log_group": group,
    "aws_cloudwatch.cw_log_stream": "app",
    "aws_cloudwatch.cw_retention_days": "14",
    "aws_cloudwatch.cw_metrics_namespace": namespace,
    "aws_cloudwatch.cw_metrics_resolution": "1",
  });
  const env = {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: moto.endpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
  };

  // -M: the INI goes into Parameter Store; only names are printed.
  await using migrate = spawnBridge(["-c", ini.path, "-s", "-M"], env);
  assert.equal((await migrate.exit()).code, 0, migrate.output);
  assert.match(migrate.output, /\/mq2wsbridge\/aws_mq\/mq_qname_to_ws/);
  assert.match(migrate.output, /\/mq2wsbridge\/ws_api\/client_secret/);
  assert.ok(!migrate.output.includes(TEST_CLIENT_SECRET) && !migrate.output.includes(toWs), migrate.output);

  // The service, configured only from the store (no -c, run in another directory).
  await Deno.remove(ini.path);
  await using bridge = spawnBridge(["-s", "-l", "-m", "-v"], env);
  await broker.publish(toWs, ["one", "two", "three"]);
  const got = await broker.collect(fromWs, 3);
  assert.deepEqual(got.map((m) => m.text), ["one", "two", "three"]);
  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0, bridge.output);
  assert.equal(bridge.output.trim(), "", "no stdout or stderr logging with -l");

  const client = {
    region: "us-east-1",
    endpoint: moto.endpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  };
  const logs = new CloudWatchLogsClient(client);
  const metrics = new CloudWatchClient(client);
  try {
    const events = await logs.send(
      new GetLogEventsCommand({ logGroupName: group, logStreamName: "app", startFromHead: true }),
    );
    const lines = (events.events ?? []).map((e) => e.message ?? "");
    assert.ok(lines.some((line) => /INFO {2}\[bridge\] Bridging/.test(line)), lines.join("\n"));
    assert.ok(lines.some((line) => /SIGTERM received/.test(line)), "flushed at shutdown");
    assert.ok(lines.at(-1)?.includes("Stopped"), lines.join("\n"));
    assert.ok(!lines.join("\n").includes(TEST_CLIENT_SECRET) && !lines.join("\n").includes(TEST_PASSWORD));
    const described = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }));
    assert.equal(described.logGroups?.[0]?.retentionInDays, 14);

    const listed = await metrics.send(new ListMetricsCommand({ Namespace: namespace }));
    const names = new Set(listed.Metrics?.map((m) => m.MetricName));
    for (const name of ORIGINAL_METRICS) {
      assert.ok(names.has(name), `${name} in ${[...names]}`);
    }
    const dimensions = Object.fromEntries(listed.Metrics![0]!.Dimensions!.map((d) => [d.Name, d.Value]));
    assert.deepEqual(dimensions, { instance_id: "i-fake", pid: String(bridge.pid) });
  } finally {
    logs.destroy();
    metrics.destroy();
  }
});

Deno.test("mq2wsbridge -l -m under a least-privilege role: one WARN per denied call, logging and bridging go on [integration]", async () => {
  await using moto = await startMoto();
  // The role allows logs:PutLogEvents only; group and stream were made beforehand (CloudFormation).
  await using proxy = startAwsProxy(moto.endpoint, {
    deny: {
      CreateLogGroup: "logs:CreateLogGroup",
      PutRetentionPolicy: "logs:PutRetentionPolicy",
      CreateLogStream: "logs:CreateLogStream",
      PutMetricData: "cloudwatch:PutMetricData",
    },
  });
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  const group = `/test/${unique("least")}`;
  const credentials = { accessKeyId: "test", secretAccessKey: "test" };
  const logs = new CloudWatchLogsClient({ region: "us-east-1", endpoint: moto.endpoint, credentials });
  try {
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: "app" }));
    await using ini = await writeIni({
      ...bridgeValues({ toWs, fromWs }),
      "aws_cloudwatch.cw_region": "us-east-1",
      "aws_cloudwatch.cw_log_group": group,
      "aws_cloudwatch.cw_log_stream": "app",
      "aws_cloudwatch.cw_metrics_namespace": `test/${unique("least")}`,
      "aws_cloudwatch.cw_metrics_resolution": "1",
    });
    await using bridge = spawnBridge(["-c", ini.path, "-X", "-l", "-m", "-v"], {
      AWS_ENDPOINT_URL: proxy.endpoint,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
    });
    await broker.publish(toWs, ["one", "two"]);
    assert.deepEqual(
      (await broker.collect(fromWs, 2)).map((m) => m.text),
      ["one", "two"],
      "bridging goes on",
    );
    // Several metrics intervals go by, each PutMetricData denied.
    await waitFor(() => proxy.of("PutMetricData").length >= 3, 10_000, "three denied PutMetricData calls");
    bridge.kill("SIGTERM");
    assert.equal((await bridge.exit()).code, 0, bridge.output);
    assert.equal(bridge.output.trim(), "", "nothing on stderr: PutLogEvents works");

    for (const operation of ["CreateLogGroup", "PutRetentionPolicy", "CreateLogStream"]) {
      assert.equal(proxy.of(operation).length, 1, `${operation} tried once, not before every batch`);
    }
    const events = await logs.send(
      new GetLogEventsCommand({ logGroupName: group, logStreamName: "app", startFromHead: true }),
    );
    const lines = (events.events ?? []).map((e) => e.message ?? "");
    const warnings = lines.filter((l) => l.includes(" WARN "));
    for (const permission of ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:CreateLogStream"]) {
      assert.equal(warnings.filter((l) => l.includes(`allow ${permission}`)).length, 1, warnings.join("\n"));
    }
    const metrics = warnings.filter((l) => l.includes("allow cloudwatch:PutMetricData"));
    assert.equal(metrics.length, 1, `rate-limited: ${warnings.join("\n")}`);
    assert.ok(lines.some((l) => /INFO {2}\[bridge\] Bridging/.test(l)), lines.join("\n"));
    assert.ok(lines.at(-1)?.includes("Stopped"), lines.join("\n"));
  } finally {
    logs.destroy();
  }
});

Deno.test("mq2wsbridge -l with service.log_format = json sends CloudWatch Logs JSON lines only, the early ones included [integration]", async () => {
  await using moto = await startMoto();
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  const group = `/test/${unique("json")}`;
  // Mode 0644: the warning about the file is logged before the configuration names the format.
  await using ini = await writeIni({
    ...bridgeValues({ toWs, fromWs }),
    "aws_cloudwatch.cw_region": "us-east-1",
    "aws_cloudwatch.cw_log_group": group,
    "aws_cloudwatch.cw_log_stream": "app",
    "service.log_format": "json",
  }, 0o644);
  const env = childAwsEnv(moto.endpoint, { AWS_REGION: "us-east-1" });
  await using bridge = spawnBridge(["-c", ini.path, "-X", "-l", "-v"], env);
  await broker.publish(toWs, ["one"]);
  await broker.collect(fromWs, 1);
  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0, bridge.output);
  const logs = new CloudWatchLogsClient({
    region: "us-east-1",
    endpoint: moto.endpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  try {
    const events = await logs.send(
      new GetLogEventsCommand({ logGroupName: group, logStreamName: "app", startFromHead: true }),
    );
    const records = (events.events ?? []).map((e) => JSON.parse(e.message ?? ""));
    assert.ok(
      records.some((r) => /readable by group or others/.test(r.msg) && r.level === "warn"),
      "early line",
    );
    assert.ok(records.some((r) => r.msg === "Bridging" && r.component === "bridge"), "and the rest");
    assert.ok(records.every((r) => typeof r.time === "string" && typeof r.component === "string"));
    assert.ok(!JSON.stringify(records).includes(TEST_CLIENT_SECRET));
  } finally {
    logs.destroy();
  }
});
