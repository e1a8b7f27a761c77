/**
 * Shutdown of the real CLI, spawned as a process, when every AWS endpoint
 * black-holes (accepts TCP, never answers: a firewall, a broken VPC
 * endpoint): SIGTERM to exit must stay within the bridge's 10 s drain plus 5 s
 * for logs and metrics, and every line CloudWatch Logs did not take must reach
 * standard error, none dropped.
 */
import assert from "node:assert/strict";
import { bridgeValues, spawnBridge, writeIni } from "../_bridge.ts";
import { openBroker } from "../_broker.ts";
import { startSilentServer } from "../_aws.ts";
import { startWsServer } from "../_ws_server.ts";

/** systemd's budget from the issue: the 10 s drain plus 5 s for logs and metrics. */
const BOUND_SECS = 15;

Deno.test("mq2wsbridge -l -m exits within 15 s of SIGTERM when every AWS endpoint black-holes, no line dropped [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using hole = startSilentServer();
  await using server = startWsServer(); // echoes: what goes to the API comes back to from_ws
  await using ini = await writeIni({
    ...bridgeValues({ toWs, fromWs, wsUrl: server.url }),
    "aws_cloudwatch.cw_region": "us-east-1",
    "aws_cloudwatch.cw_log_group": "/test/blackhole",
    "aws_cloudwatch.cw_log_stream": "app",
    "aws_cloudwatch.cw_metrics_namespace": "test/blackhole",
    "aws_cloudwatch.cw_metrics_resolution": "1",
  });
  await using bridge = spawnBridge(["-c", ini.path, "-l", "-m", "-v"], {
    AWS_ENDPOINT_URL: hole.endpoint,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: hole.endpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  });
  // Bridging: a message goes round through the WebSocket API.
  await broker.publish(toWs, ["round trip"]);
  assert.deepEqual((await broker.collect(fromWs, 1, 30_000)).map((m) => m.text), ["round trip"]);

  const started = performance.now();
  bridge.kill("SIGTERM");
  const status = await bridge.exit(60_000);
  const secs = (performance.now() - started) / 1000;
  // deno-lint-ignore no-console
  console.log(`SIGTERM to exit with every AWS endpoint black-holed: ${secs.toFixed(1)} s`);

  assert.equal(status.code, 0, bridge.output);
  assert.ok(secs <= BOUND_SECS, `SIGTERM to exit took ${secs.toFixed(1)} s (bound ${BOUND_SECS} s)`);
  // CloudWatch Logs never answered: the service's own lines are on stderr, up to the last one.
  for (const line of [/Bridging/, /SIGTERM received; shutting down/, /INFO {2}\[bridge\] Stopped/]) {
    assert.ok(bridge.lines.some((l) => line.test(l)), `${line} on stderr:\n${bridge.output}`);
  }
});
