/**
 * `mq2wsbridge --check-config` as a process (no broker needed): it refuses
 * what the service would refuse, CA files included, lists every problem of
 * a file (syntax and values) in one report, and accepts what the original
 * accepted (an api_host with a path, [DEFAULT], Python number formats).
 */
import assert from "node:assert/strict";
import { bridgeValues, spawnBridge, TEST_CLIENT_SECRET, writeIni } from "../_bridge.ts";
import { makeTestPki } from "../_tls.ts";

const VALUES = bridgeValues({ toWs: "to_ws", fromWs: "from_ws" });

Deno.test("mq2wsbridge --check-config accepts an api_host with a path (an API Gateway stage) [integration]", async () => {
  await using ini = await writeIni({
    ...VALUES,
    "ws_api.api_host": "wss://abc123.execute-api.us-east-1.amazonaws.com/prod",
    "ws_api.api_uri": "/",
  });
  await using bridge = spawnBridge(["-c", ini.path, "--check-config"]);
  assert.equal((await bridge.exit()).code, 0, bridge.output);
  assert.match(bridge.output, /is valid$/);
});

Deno.test("mq2wsbridge --check-config exits 78 for a CA file that is missing or not PEM certificates [integration]", async () => {
  await using pki = await makeTestPki();
  const cases: [Record<string, string>, RegExp][] = [
    [
      { "aws_mq.mq_ca_file": `${pki.dir}/absent.pem` },
      /aws_mq\.mq_ca_file: "[^"]+absent\.pem" does not exist/,
    ],
    [{ "aws_mq.mq_ca_file": `${pki.dir}/ca.key` }, /aws_mq\.mq_ca_file: "[^"]+ca\.key" holds no certificate/],
    [{ "ws_api.ws_ca_file": pki.dir }, /ws_api\.ws_ca_file: "[^"]+" is a directory, not a PEM file/],
  ];
  for (const [values, problem] of cases) {
    await using ini = await writeIni({ ...VALUES, ...values });
    await using bridge = spawnBridge(["-c", ini.path, "--check-config"]);
    assert.equal((await bridge.exit()).code, 78, bridge.output);
    assert.match(bridge.output, problem);
  }
  await using good = await writeIni({ ...VALUES, "aws_mq.mq_ca_file": `${pki.dir}/ca.pem` });
  await using bridge = spawnBridge(["-c", good.path, "--check-config"]);
  assert.equal((await bridge.exit()).code, 0, bridge.output);
});

Deno.test("mq2wsbridge --check-config lists INI syntax errors and value errors in one report [integration]", async () => {
  await using ini = await writeIni(VALUES);
  const text = await Deno.readTextFile(ini.path);
  await Deno.writeTextFile(
    ini.path,
    text.replace("[aws_mq]", "[aws_mq]\nmq_port = abc\nmq_password hunter2\nmq_prefetch = 1.5"),
  );
  await using bridge = spawnBridge(["-c", ini.path, "--check-config"]);
  assert.equal((await bridge.exit()).code, 78);
  assert.match(bridge.output, /line \d+: expected "key = value" or "\[section\]"/);
  assert.match(bridge.output, /aws_mq\.mq_port: "abc" is not a port number/);
  assert.match(bridge.output, /aws_mq\.mq_prefetch: "1\.5" is not a whole number/);
  assert.ok(!bridge.output.includes("hunter2"), bridge.output);
});

Deno.test("mq2wsbridge exits 78 at once for an mq_url password with a stray %, naming the key, not the value [integration]", async () => {
  // In an INI file "%%" is one "%" (configparser's rule): the URL then holds "pa%zz".
  await using ini = await writeIni({
    ...VALUES,
    "aws_mq.mq_url": "amqp://guest:pa%%zzword@127.0.0.1:5672",
    "aws_mq.mq_max_connect_attempts": "1",
  });
  for (const args of [["--check-config"], ["-X"]]) {
    await using bridge = spawnBridge(["-c", ini.path, ...args]);
    assert.equal((await bridge.exit()).code, 78, bridge.output);
    assert.match(bridge.output, /aws_mq\.mq_url: the password is not valid URL encoding: .* %25/);
    assert.ok(!/pa%zz|URI malformed/.test(bridge.output), bridge.output);
  }
});

Deno.test("mq2wsbridge --check-config reads an INI written for the original with [DEFAULT] and Python numbers [integration]", async () => {
  await using ini = await writeIni(VALUES);
  const text = await Deno.readTextFile(ini.path);
  await Deno.writeTextFile(
    ini.path,
    "[DEFAULT]\nmq_heartbeat_secs = 15\nws_ping_interval = 5.0\n\n" +
      text.replace("[aws_cloudwatch]", "") +
      "\n[aws_cloudwatch]\ncw_region = us-east-1\ncw_metrics_namespace = /org/bridge\ncw_metrics_resolution = 1e1\n",
  );
  await using bridge = spawnBridge(["-c", ini.path, "-m", "--check-config"]);
  assert.equal((await bridge.exit()).code, 0, bridge.output);
  assert.ok(!bridge.output.includes(TEST_CLIENT_SECRET));
});
