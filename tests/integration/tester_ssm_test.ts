/**
 * bridgetester -s: the configuration from Parameter Store (moto), read the
 * way mq2wsbridge -s reads it, after the INI file was migrated and deleted
 * as the README says. The real CLIs as processes, the real broker.
 */
import assert from "node:assert/strict";
import { bridgeValues, spawnBridge, TEST_PASSWORD, writeIni } from "../_bridge.ts";
import { openBroker } from "../_broker.ts";
import { childAwsEnv, startImds, startMoto } from "../_aws.ts";
import { runTesterCli, startBridgeProcess } from "../_tester.ts";

Deno.test("bridgetester -s runs from Parameter Store after the INI file is migrated and deleted [integration]", async () => {
  await using moto = await startMoto();
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni({
    ...bridgeValues({ toWs, fromWs, mqUrl: "amqp://127.0.0.1:5672" }),
    "aws_mq.mq_user_id": "guest",
    "aws_mq.mq_password": "guest",
  });
  const env = childAwsEnv(moto.endpoint, { AWS_REGION: "us-east-1" });
  await using migrate = spawnBridge(["-c", ini.path, "-s", "-M"], env);
  assert.equal((await migrate.exit()).code, 0, migrate.output);
  await Deno.remove(ini.path);

  await using _bridge = await startBridgeProcess("-s", { env });
  // No AWS_REGION: the region comes from --ssm-region, or else from the instance metadata.
  const bare = childAwsEnv(moto.endpoint);
  const explicit = await runTesterCli(
    ["-s", "--ssm-region", "us-east-1", "-n", "5", "-d", "0", "-e", "20"],
    60_000,
    bare,
  );
  assert.equal(explicit.code, 0, explicit.stdout + explicit.stderr);
  assert.match(explicit.stdout, /^Reconciled {2}5 of 5$/m);
  await using imds = startImds({ region: "us-east-1" });
  const onEc2 = {
    ...bare,
    AWS_EC2_METADATA_DISABLED: "false",
    AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint,
  };
  const json = `${ini.dir}/summary.json`;
  const fromImds = await runTesterCli(
    ["-s", "-q", "-n", "5", "-d", "0", "-e", "20", "--json", json],
    60_000,
    onEc2,
  );
  assert.equal(fromImds.code, 0, fromImds.stdout + fromImds.stderr);
  assert.ok(imds.paths.includes("GET /latest/meta-data/placement/region"), `${imds.paths}`);
  const summary = JSON.parse(await Deno.readTextFile(json));
  assert.equal(summary.config, "ssm:/mq2wsbridge");
  assert.equal(summary.reconciled, 5);
  assert.ok(!(explicit.stdout + explicit.stderr + fromImds.stdout).includes(TEST_PASSWORD));
});

Deno.test("bridgetester -s names --ssm-region (its -r is the report file) when no region can be found", async () => {
  await using moto = await startMoto();
  const out = await runTesterCli(["-s", "-n", "1"], 30_000, childAwsEnv(moto.endpoint));
  assert.equal(out.code, 78, out.stdout + out.stderr);
  assert.match(out.stderr, /pass --ssm-region REGION/);
  assert.doesNotMatch(out.stderr, /pass -r /);
});

Deno.test("bridgetester -s exits 78 naming the parameter store when it holds nothing", async () => {
  await using moto = await startMoto();
  const out = await runTesterCli(
    ["-s", "--ssm-region", "eu-west-1", "-n", "1"],
    30_000,
    childAwsEnv(moto.endpoint),
  );
  assert.equal(out.code, 78, out.stdout + out.stderr);
  assert.match(out.stderr, /no parameters found under \/mq2wsbridge in region eu-west-1/);
});

Deno.test("bridgetester exits 69 when Parameter Store cannot be reached, saying so", async () => {
  const out = await runTesterCli(
    ["-s", "--ssm-region", "us-east-1", "-n", "1"],
    30_000,
    childAwsEnv("http://127.0.0.1:9"),
  );
  assert.equal(out.code, 69, out.stdout + out.stderr);
  assert.match(out.stderr, /Cannot read parameters under "\/mq2wsbridge" from SSM in us-east-1/);
});
