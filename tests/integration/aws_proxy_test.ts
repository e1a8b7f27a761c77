/**
 * The AWS half of corporate networks: the real CLI, spawned as a process,
 * makes its AWS calls through a real proxy server (tinyproxy) when
 * HTTPS_PROXY / HTTP_PROXY (or their lowercase forms) say so, and around it
 * for the hosts NO_PROXY names. The endpoint is moto, behind TLS for the
 * HTTPS case (a throwaway CA the CLI trusts through DENO_CERT), so the proxy
 * sees a CONNECT tunnel exactly as with a real AWS endpoint.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { bridgeValues, spawnBridge, writeIni } from "../_bridge.ts";
import { openBroker } from "../_broker.ts";
import { awsEnv, childAwsEnv, seedParameters, startMoto, unique } from "../_aws.ts";
import { makeTestPki, startTlsForwarder } from "../_tls.ts";
import { startTinyproxy } from "../_tinyproxy.ts";

const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

/** Unsets every proxy variable of the test runner's own, so the child sees only the test's. */
function withoutProxyVars(): Disposable {
  const names = [
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
  ];
  return awsEnv(Object.fromEntries(names.map((name) => [name, undefined])));
}

for (const lower of [false, true]) {
  const [https, no] = lower ? ["https_proxy", "no_proxy"] : ["HTTPS_PROXY", "NO_PROXY"];
  Deno.test(`mq2wsbridge -s sends its AWS calls through ${https} (CONNECT), and around it for ${no} hosts [integration]`, async () => {
    using _env = withoutProxyVars();
    await using moto = await startMoto();
    await seedParameters(moto.endpoint, bridgeValues({ toWs: "to_ws", fromWs: "from_ws" }));
    await using pki = await makeTestPki();
    await using tls = startTlsForwarder(pki, Number(new URL(moto.endpoint).port));
    await using proxy = await startTinyproxy();
    const endpoint = `https://127.0.0.1:${tls.port}`;
    const env = childAwsEnv(endpoint, {
      AWS_REGION: REGION,
      DENO_CERT: join(pki.dir, "ca.pem"),
      [https]: proxy.url,
    });

    await using through = spawnBridge(["-s", "--check-config"], env);
    assert.equal((await through.exit()).code, 0, through.output);
    const tunnelled = await proxy.requests();
    assert.ok(tunnelled.includes(`CONNECT 127.0.0.1:${tls.port}`), `proxy saw: ${tunnelled.join(", ")}`);

    await using around = spawnBridge(["-s", "--check-config"], { ...env, [no]: "localhost,127.0.0.1" });
    assert.equal((await around.exit()).code, 0, around.output);
    assert.deepEqual(await proxy.requests(), tunnelled, `${no} bypasses the proxy`);
  });
}

Deno.test("mq2wsbridge -l -m sends CloudWatch Logs and metrics through the proxy, never the metadata service [integration]", async () => {
  using _env = withoutProxyVars();
  await using moto = await startMoto();
  await using pki = await makeTestPki();
  await using tls = startTlsForwarder(pki, Number(new URL(moto.endpoint).port));
  await using proxy = await startTinyproxy();
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  const group = `/test/${unique("proxy")}`;
  await using ini = await writeIni({
    ...bridgeValues({ toWs, fromWs }),
    "aws_cloudwatch.cw_region": REGION,
    "aws_cloudwatch.cw_log_group": group,
    "aws_cloudwatch.cw_log_stream": "app",
    "aws_cloudwatch.cw_metrics_namespace": `test/${unique("proxy")}`,
    "aws_cloudwatch.cw_metrics_resolution": "1",
  });
  await using bridge = spawnBridge(
    ["-c", ini.path, "-X", "-l", "-m", "-v", "--runsecs", "2"],
    childAwsEnv(`https://127.0.0.1:${tls.port}`, {
      AWS_REGION: REGION,
      DENO_CERT: join(pki.dir, "ca.pem"),
      HTTPS_PROXY: proxy.url,
      HTTP_PROXY: proxy.url, // the metadata service is plain HTTP: it must not go through either
      AWS_EC2_METADATA_DISABLED: "false",
      AWS_EC2_METADATA_SERVICE_ENDPOINT: moto.endpoint,
    }),
  );
  assert.equal((await bridge.exit()).code, 0, bridge.output);
  assert.equal(bridge.output.trim(), "", "nothing on stderr: CloudWatch took every line");

  const requests = await proxy.requests();
  assert.ok(requests.includes(`CONNECT 127.0.0.1:${tls.port}`), `proxy saw: ${requests.join(", ")}`);
  assert.deepEqual(requests.filter((r) => !r.startsWith("CONNECT ")), [], "IMDS is never proxied");
  const logs = new CloudWatchLogsClient({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: CREDENTIALS,
  });
  try {
    const out = await logs.send(
      new GetLogEventsCommand({ logGroupName: group, logStreamName: "app", startFromHead: true }),
    );
    const lines = (out.events ?? []).map((e) => e.message ?? "");
    assert.ok(lines.some((l) => l.includes("Bridging")), `lines through the proxy:\n${lines.join("\n")}`);
    assert.ok(lines.at(-1)?.includes("Stopped"), lines.join("\n"));
  } finally {
    logs.destroy();
  }
});
