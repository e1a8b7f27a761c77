/**
 * The real CLI, spawned as a process, against moto behind a proxy that
 * denies chosen actions: a refused permission is its own exit status (77)
 * with one line naming the permission, and `-M` leaves Parameter Store equal
 * to the INI file.
 */
import assert from "node:assert/strict";
import { bridgeValues, spawnBridge, TEST_CLIENT_SECRET, writeIni } from "../_bridge.ts";
import { childAwsEnv, seedParameters, startAwsProxy, startMoto } from "../_aws.ts";

const REGION = "us-east-1";

/** Parameters of a complete configuration, for a store filled by hand. */
const VALUES = bridgeValues({ toWs: "to_ws", fromWs: "from_ws" });

for (
  const [what, action, line] of [
    ["IAM denies ssm:GetParametersByPath", "ssm:GetParametersByPath", /allow ssm:GetParametersByPath/],
    ["KMS refuses to decrypt", "kms:Decrypt", /KMS refused to decrypt .*allow kms:Decrypt/],
  ] as const
) {
  Deno.test(`mq2wsbridge -s exits 77 with one line naming the permission when ${what}, without retrying [integration]`, async () => {
    await using moto = await startMoto();
    await seedParameters(moto.endpoint, VALUES);
    await using proxy = startAwsProxy(moto.endpoint, { deny: { GetParametersByPath: action } });
    await using bridge = spawnBridge(["-s", "-l", "-m"], childAwsEnv(proxy.endpoint, { AWS_REGION: REGION }));
    const status = await bridge.exit();

    assert.equal(status.code, 77, bridge.output);
    assert.equal(bridge.lines.length, 1, bridge.output);
    assert.match(
      bridge.lines[0]!,
      /^mq2wsbridge: Cannot read parameters under "\/mq2wsbridge" from SSM in us-east-1: /,
    );
    assert.match(bridge.lines[0]!, line);
    assert.equal(proxy.of("GetParametersByPath").length, 1, "a denial is not retried like a network blip");
  });
}

Deno.test("mq2wsbridge -s -M deletes the parameters the INI file does not set, printing names only [integration]", async () => {
  await using moto = await startMoto();
  const stale = {
    "aws_mq.mq_url": "amqps://stale-broker.example.com:5671", // no longer in the INI file
    "aws_mq.mq_ca_file": "/etc/stale-ca.pem", // left empty in the INI file
  };
  await seedParameters(moto.endpoint, { ...VALUES, ...stale });
  const { "aws_mq.mq_url": _gone, ...kept } = VALUES;
  await using ini = await writeIni({
    ...kept,
    "aws_mq.mq_ca_file": "",
    "aws_mq.mq_user_id": "guest",
    "aws_mq.mq_password": "guest",
    "aws_mq.mq_broker_id": "b-1234",
    "aws_mq.mq_region": REGION,
  });

  await using migrate = spawnBridge(
    ["-c", ini.path, "-s", "-M"],
    childAwsEnv(moto.endpoint, { AWS_REGION: REGION }),
  );
  assert.equal((await migrate.exit()).code, 0, migrate.output);
  const at = migrate.lines.findIndex((l) => /^Deleted 2 parameters that .* does not set:$/.test(l));
  assert.ok(at > 0, migrate.output);
  assert.deepEqual(migrate.lines.slice(at + 1, at + 3), [
    "  /mq2wsbridge/aws_mq/mq_ca_file",
    "  /mq2wsbridge/aws_mq/mq_url",
  ]);
  for (const secret of [TEST_CLIENT_SECRET, "stale-broker", "stale-ca", "guest"]) {
    assert.ok(!migrate.output.includes(secret), `${secret} printed:\n${migrate.output}`);
  }

  // The next -s run reads the INI's broker, not the stale mq_url.
  await using check = spawnBridge(
    ["-s", "--check-config", "-v"],
    childAwsEnv(moto.endpoint, { AWS_REGION: REGION }),
  );
  assert.equal((await check.exit()).code, 0, check.output);
  assert.ok(!check.output.includes("stale-broker"), check.output);
});

Deno.test("mq2wsbridge -s -M exits 77 naming ssm:PutParameter when IAM denies it [integration]", async () => {
  await using moto = await startMoto();
  await using proxy = startAwsProxy(moto.endpoint, { deny: { PutParameter: "ssm:PutParameter" } });
  await using ini = await writeIni(VALUES);
  await using migrate = spawnBridge(
    ["-c", ini.path, "-s", "-M"],
    childAwsEnv(proxy.endpoint, { AWS_REGION: REGION }),
  );
  assert.equal((await migrate.exit()).code, 77, migrate.output);
  assert.match(
    migrate.output,
    /Cannot write parameter \/mq2wsbridge\/\w+\/\w+ to SSM in us-east-1: access denied/,
  );
  assert.match(migrate.output, /allow ssm:PutParameter/);
  assert.ok(!migrate.output.includes(TEST_CLIENT_SECRET));
});

Deno.test("mq2wsbridge --help documents exit status 77 [integration]", async () => {
  await using help = spawnBridge(["--help"]);
  assert.equal((await help.exit()).code, 0);
  assert.match(help.output.replace(/\s+/g, " "), /77 credentials or permission refused \(AWS IAM or KMS/);
  assert.match(
    help.output.replace(/\s+/g, " "),
    /delete the parameters under \/mq2wsbridge the INI does not set/,
  );
});
