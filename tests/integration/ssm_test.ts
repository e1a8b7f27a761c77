import assert from "node:assert/strict";
import { GetParametersByPathCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { readSsmConfig } from "../../handlers/aws/ssm.ts";
import { migrateToSsm } from "../../handlers/aws/ssm_migrate.ts";
import { iniToRaw } from "../../config/ini_file.ts";
import { ConfigError, parseConfig } from "../../config/config.ts";
import { AwsPermissionError } from "../../handlers/aws/client.ts";
import {
  awsEnv,
  deadEndpoint,
  json,
  startAwsProxy,
  startFakeAws,
  startMoto,
  startSilentServer,
} from "../_aws.ts";

const REGION = "us-east-1";
const ALL = { ws: true, logs: false, metrics: false };
const EXAMPLE = new URL("../../mq2wsbridge.example.ini", import.meta.url);

/** A complete configuration as parameter names (without the prefix) and values. */
const BASE: Record<string, string> = {
  "ws_api/client_id": "abc123",
  "ws_api/client_secret": "0a1b2c3d4e5f",
  "ws_api/api_host": "wss://api.example.com",
  "ws_api/api_uri": "/ws",
  "aws_mq/mq_broker_id": "b-1234",
  "aws_mq/mq_user_id": "bridge",
  "aws_mq/mq_password": "hunter2hunter2",
  "aws_mq/mq_region": "us-east-1",
  "aws_mq/mq_qname_to_ws": "to_ws",
  "aws_mq/mq_qname_from_ws": "from_ws",
};

async function seed(endpoint: string, params: Record<string, string>, type: "SecureString" | "String") {
  const client = new SSMClient({ region: REGION, endpoint });
  try {
    for (const [name, value] of Object.entries(params)) {
      await client.send(new PutParameterCommand({ Name: `/mq2wsbridge/${name}`, Value: value, Type: type }));
    }
  } finally {
    client.destroy();
  }
}

Deno.test("readSsmConfig() reads every page, decrypted, recursively", async () => {
  await using moto = await startMoto();
  await using front = startFakeAws(undefined, moto.endpoint);
  using _env = awsEnv({ AWS_ENDPOINT_URL: front.endpoint });
  const many = {
    ...BASE,
    "aws_mq/mq_port": "5672",
    "aws_mq/mq_prefetch": "50",
    "ws_api/ws_ping_interval": "5",
  };
  await seed(moto.endpoint, many, "SecureString");

  const { raw, warnings } = await readSsmConfig({ region: REGION });

  const calls = front.of("GetParametersByPath");
  assert.ok(calls.length >= 2, `13 parameters need 2 pages of 10, saw ${calls.length} call(s)`);
  for (const call of calls) {
    assert.equal(call.body.WithDecryption, true);
    assert.equal(call.body.Recursive, true);
    assert.equal(call.body.Path, "/mq2wsbridge");
  }
  assert.ok(calls.slice(1).every((c) => typeof c.body.NextToken === "string"));
  assert.deepEqual(warnings, []);
  assert.equal(raw.values.size, Object.keys(many).length);
  assert.equal(raw.values.get("aws_mq.mq_password"), "hunter2hunter2"); // not "kms:alias/aws/ssm:..."
  const config = parseConfig(raw, ALL);
  assert.equal(config.mq.prefetch, 50);
  assert.equal(
    config.mq.url.reveal(),
    "amqps://bridge:hunter2hunter2@b-1234.mq.us-east-1.amazonaws.com:5672",
  );
});

Deno.test("readSsmConfig() accepts the original's legacy names and lets the INI name win", async () => {
  await using moto = await startMoto();
  using _env = awsEnv({ AWS_ENDPOINT_URL: moto.endpoint });
  const params = { ...BASE };
  delete params["ws_api/client_id"];
  delete params["ws_api/client_secret"];
  delete params["aws_mq/mq_user_id"];
  await seed(moto.endpoint, {
    ...params,
    "ws_api/ws_client_id": "legacy-id",
    "ws_api/ws_client_password": "abcdef",
    "aws_mq/mq_userid": "legacy-user",
    "ws_api/ws_api_host": "wss://legacy.example.com", // api_host is also set: ignored
  }, "String");

  const { raw, warnings } = await readSsmConfig({ region: REGION });
  const config = parseConfig(raw, ALL);

  assert.equal(config.ws?.clientId, "legacy-id");
  assert.equal(config.ws?.clientSecret.reveal(), "abcdef");
  assert.equal(config.ws?.apiHost, "wss://api.example.com");
  assert.match(config.mq.url.reveal(), /^amqps:\/\/legacy-user:/);
  assert.deepEqual(warnings, [
    "Parameter /mq2wsbridge/ws_api/ws_api_host is ignored: /mq2wsbridge/ws_api/api_host is also set",
  ]);
  assert.equal(raw.label?.("ws_api.client_id"), "/mq2wsbridge/ws_api/ws_client_id");
});

Deno.test("parseConfig() names the parameter when an SSM value is missing or wrong", async () => {
  await using moto = await startMoto();
  using _env = awsEnv({ AWS_ENDPOINT_URL: moto.endpoint });
  const params: Record<string, string> = { ...BASE, "aws_mq/mq_port": "abc", "aws_mq/mq_prot": "1" };
  delete params["aws_mq/mq_qname_to_ws"];
  await seed(moto.endpoint, params, "SecureString");

  const { raw } = await readSsmConfig({ region: REGION });
  let err: ConfigError | undefined;
  try {
    parseConfig(raw, ALL);
  } catch (e) {
    err = e as ConfigError;
  }

  assert.ok(err instanceof ConfigError);
  assert.equal(err.source, "ssm:/mq2wsbridge");
  assert.ok(
    err.problems.includes("/mq2wsbridge/aws_mq/mq_qname_to_ws: is required but not set"),
    err.message,
  );
  assert.ok(err.problems.includes('/mq2wsbridge/aws_mq/mq_port: "abc" is not a port number (1-65535)'));
  assert.ok(err.problems.some((p) => p.startsWith("/mq2wsbridge/aws_mq/mq_prot: is not a known setting")));
});

Deno.test("readSsmConfig() reports an empty store as a configuration error naming the region", async () => {
  await using moto = await startMoto();
  using _env = awsEnv({ AWS_ENDPOINT_URL_SSM: moto.endpoint, AWS_ENDPOINT_URL: deadEndpoint() });
  // Also proves AWS_ENDPOINT_URL_SSM wins over AWS_ENDPOINT_URL: the latter refuses connections.
  await assert.rejects(readSsmConfig({ region: "eu-north-1" }), (err: ConfigError) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /no parameters found under \/mq2wsbridge in region eu-north-1/);
    return true;
  });
});

Deno.test("migrateToSsm() writes every INI key as a SecureString and round-trips the example INI", async () => {
  await using moto = await startMoto();
  await using front = startFakeAws(undefined, moto.endpoint);
  using _env = awsEnv({ AWS_ENDPOINT_URL: front.endpoint });
  const ini = iniToRaw(await Deno.readTextFile(EXAMPLE), "mq2wsbridge.example.ini");

  const result = await migrateToSsm(ini, { region: REGION });

  const puts = front.of("PutParameter");
  assert.equal(puts.length, ini.values.size);
  assert.deepEqual(result.written, [...ini.values.keys()].map((k) => `/mq2wsbridge/${k.replace(".", "/")}`));
  assert.deepEqual(result.skipped, []);
  for (const { body } of puts) {
    assert.equal(body.Type, "SecureString");
    assert.equal(body.KeyId, "alias/aws/ssm");
    assert.equal(body.Overwrite, true);
    assert.equal(body.Description, "migrated from INI");
  }
  assert.ok(front.of("GetParametersByPath").length >= 1, "verified by reading back");
  const printed = JSON.stringify(result);
  for (const value of ini.values.values()) {
    assert.ok(!printed.includes(`"${value}"`), "no value in the result");
  }

  const { raw } = await readSsmConfig({ region: REGION });
  const needs = { ws: true, logs: true, metrics: true };
  assert.deepEqual(JSON.stringify(parseConfig(raw, needs).mq), JSON.stringify(parseConfig(ini, needs).mq));
  assert.equal(parseConfig(raw, needs).mq.url.reveal(), parseConfig(ini, needs).mq.url.reveal());
  // Overwrite: a second migration succeeds too.
  assert.equal((await migrateToSsm(ini, { region: REGION })).written.length, ini.values.size);
});

Deno.test("migrateToSsm() keeps values out of its errors", async () => {
  await using fake = startFakeAws((call) =>
    json(
      `1 validation error detected: Value '${call.body.Value}' at 'value' failed to satisfy constraint`,
      400,
      "ValidationException",
    )
  );
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  const raw = iniToRaw("[aws_mq]\nmq_password = s3cr3t-value\nmq_ca_file =\n", "test.ini");

  await assert.rejects(migrateToSsm(raw, { region: REGION }), (e: Error) => {
    assert.match(e.message, /Cannot write parameter \/mq2wsbridge\/aws_mq\/mq_password to SSM in us-east-1/);
    assert.ok(!e.message.includes("s3cr3t-value"), e.message);
    assert.ok(!String(e.cause ?? "").includes("s3cr3t-value"));
    return true;
  });
});

Deno.test("readSsmConfig() says credentials are missing, quickly, when IMDS never answers", async () => {
  await using imds = startSilentServer();
  using _env = awsEnv({
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_EC2_METADATA_DISABLED: undefined,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint,
    AWS_ENDPOINT_URL: deadEndpoint(),
  });
  const started = performance.now();
  await assert.rejects(readSsmConfig({ region: REGION }), /no AWS credentials found.*instance role/);
  const ms = performance.now() - started;
  assert.ok(ms < 5_000, `took ${ms} ms`);
});

Deno.test("readSsmConfig() says access is denied", async () => {
  await using fake = startFakeAws(() =>
    json("User is not authorized to perform ssm:GetParametersByPath", 400, "AccessDeniedException")
  );
  using _env = awsEnv({ AWS_ENDPOINT_URL: fake.endpoint });
  await assert.rejects(
    readSsmConfig({ region: REGION }),
    /Cannot read parameters under "\/mq2wsbridge" from SSM in us-east-1: access denied \(User is not authorized/,
  );
});

Deno.test("readSsmConfig() fails within its timeouts on a dead or silent endpoint", async () => {
  using _env = awsEnv({ AWS_ENDPOINT_URL: deadEndpoint() });
  await assert.rejects(readSsmConfig({ region: REGION }), /endpoint unreachable \(.*ECONNREFUSED/);

  await using silent = startSilentServer();
  const started = performance.now();
  await assert.rejects(
    readSsmConfig({ region: REGION, endpoint: silent.endpoint, requestTimeoutMs: 300, maxAttempts: 2 }),
    /endpoint unreachable/,
  );
  assert.ok(performance.now() - started < 3_000);
});

/** Every parameter under /mq2wsbridge in moto: name → value (decrypted). */
async function storeOf(endpoint: string): Promise<Map<string, string>> {
  const client = new SSMClient({ region: REGION, endpoint });
  const out = new Map<string, string>();
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new GetParametersByPathCommand({
          Path: "/mq2wsbridge",
          Recursive: true,
          WithDecryption: true,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      for (const p of page.Parameters ?? []) out.set(p.Name!, p.Value!);
      token = page.NextToken;
    } while (token);
  } finally {
    client.destroy();
  }
  return out;
}

Deno.test("migrateToSsm() leaves the store equal to the INI file: deletes what it does not set, empty keys included", async () => {
  await using moto = await startMoto();
  await using front = startFakeAws(undefined, moto.endpoint);
  using _env = awsEnv({ AWS_ENDPOINT_URL: front.endpoint });
  // Left by an earlier migration or by the original service.
  const stale = {
    "aws_mq/mq_url": "amqps://old-broker.example.com:5671", // removed from the INI since
    "aws_mq/mq_ca_file": "/etc/old-ca.pem", // empty in the INI now
    "ws_api/ws_client_id": "legacy-id", // the original's name
    "extra/deeper/thing": "x", // anything else under the prefix
  };
  await seed(moto.endpoint, { ...BASE, ...stale }, "SecureString");
  const iniText = Object.entries(BASE).reduce((text, [name, value]) => {
    const [section, key] = name.split("/");
    return text.replace(`[${section}]\n`, `[${section}]\n${key} = ${value}\n`);
  }, "[ws_api]\n[aws_mq]\nmq_ca_file =\n");
  const ini = iniToRaw(iniText, "test.ini");

  const result = await migrateToSsm(ini, { region: REGION });

  const names = (keys: string[]) => keys.map((k) => `/mq2wsbridge/${k}`).sort();
  assert.deepEqual(result.deleted, names(Object.keys(stale)));
  assert.deepEqual(result.skipped, ["aws_mq.mq_ca_file"]);
  const store = await storeOf(moto.endpoint);
  assert.deepEqual([...store.keys()].sort(), names(Object.keys(BASE)));
  for (const [name, value] of Object.entries(BASE)) assert.equal(store.get(`/mq2wsbridge/${name}`), value);
  assert.ok(front.of("DeleteParameters").length >= 1);
  assert.ok(!JSON.stringify(result).includes("old-broker"), "names only, never values");
  // The next -s run sees the INI's broker, not the stale mq_url.
  const { raw } = await readSsmConfig({ region: REGION });
  assert.equal(raw.values.has("aws_mq.mq_url"), false);
  // Nothing left to delete the second time.
  assert.deepEqual((await migrateToSsm(ini, { region: REGION })).deleted, []);
});

Deno.test("readSsmConfig() refused by IAM or KMS is an AwsPermissionError naming the permission", async () => {
  await using moto = await startMoto();
  await using proxy = startAwsProxy(moto.endpoint, {
    deny: { GetParametersByPath: "ssm:GetParametersByPath" },
  });
  using _env = awsEnv({ AWS_ENDPOINT_URL: proxy.endpoint });
  await seed(moto.endpoint, BASE, "SecureString");

  await assert.rejects(readSsmConfig({ region: REGION }), (err: Error) => {
    assert.ok(err instanceof AwsPermissionError, String(err));
    assert.equal(err.permission, "ssm:GetParametersByPath");
    assert.match(err.message, /access denied .*allow ssm:GetParametersByPath in the IAM policy/);
    return true;
  });
  assert.equal(proxy.of("GetParametersByPath").length, 1, "a denial is not retried");

  // WithDecryption with a customer managed key the role may not use: KMS says no.
  proxy.rules = { deny: { GetParametersByPath: "kms:Decrypt" } };
  await assert.rejects(readSsmConfig({ region: REGION }), (err: Error) => {
    assert.ok(err instanceof AwsPermissionError, String(err));
    assert.equal(err.permission, "kms:Decrypt");
    assert.match(err.message, /KMS refused to decrypt a SecureString parameter .*allow kms:Decrypt/);
    return true;
  });
});
