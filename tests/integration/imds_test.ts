import assert from "node:assert/strict";
import { withDeadline } from "../_ws_server.ts";
import { imdsInstanceId, imdsRegion } from "../../handlers/aws/imds.ts";
import { resolveRegion } from "../../handlers/aws/ssm.ts";
import { ConfigError } from "../../config/config.ts";
import { awsEnv, deadEndpoint, startImds, startMoto, startSilentServer } from "../_aws.ts";

Deno.test("imdsInstanceId() and imdsRegion() read IMDSv2 with a session token", async () => {
  await using imds = startImds({ region: "ap-southeast-2", instanceId: "i-0123456789abcdef0" });

  assert.equal(await imdsInstanceId({ endpoint: imds.endpoint }), "i-0123456789abcdef0");
  assert.equal(await imdsRegion({ endpoint: `${imds.endpoint}/` }), "ap-southeast-2");
  assert.deepEqual(imds.paths, [
    "PUT /latest/api/token",
    "GET /latest/meta-data/instance-id",
    "PUT /latest/api/token",
    "GET /latest/meta-data/placement/region",
  ]);
});

Deno.test("imdsInstanceId() reads moto's metadata service", async () => {
  await using moto = await startMoto();
  assert.equal(await imdsInstanceId({ endpoint: moto.endpoint }), "i-fake");
});

Deno.test("imdsInstanceId() gives null within its deadline when the service is slow, silent, absent or disabled", async () => {
  await using slow = startImds({ delayMs: 5_000 });
  await using silent = startSilentServer();
  for (const endpoint of [slow.endpoint, silent.endpoint, deadEndpoint()]) {
    const started = performance.now();
    assert.equal(await imdsInstanceId({ endpoint, timeoutMs: 300 }), null);
    const ms = performance.now() - started;
    assert.ok(ms < 1_000, `${endpoint}: ${ms} ms`);
  }
  assert.equal(await imdsInstanceId({ endpoint: slow.endpoint, disabled: true }), null);
});

Deno.test("imdsRegion() gives null when something other than IMDS answers", async () => {
  await using html = {
    server: Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("<html>login</html>"),
    ),
    async [Symbol.asyncDispose]() {
      await this.server.shutdown();
    },
  };
  assert.equal(await imdsRegion({ endpoint: `http://127.0.0.1:${html.server.addr.port}` }), null);
});

Deno.test("resolveRegion() prefers -r, then AWS_REGION, then AWS_DEFAULT_REGION", async () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const imds = () => Promise.resolve("ca-central-1");
  assert.deepEqual(
    await resolveRegion({
      explicit: "eu-west-1",
      env: env({ AWS_REGION: "us-west-2" }),
      instanceRegion: imds,
    }),
    { region: "eu-west-1", from: "-r" },
  );
  assert.deepEqual(
    await resolveRegion({ env: env({ AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "us-east-2" }) }),
    { region: "us-west-2", from: "AWS_REGION" },
  );
  assert.deepEqual(
    await resolveRegion({ env: env({ AWS_DEFAULT_REGION: "us-east-2" }), instanceRegion: imds }),
    { region: "us-east-2", from: "AWS_DEFAULT_REGION" },
  );
});

Deno.test("resolveRegion() reads the shared config file, then IMDSv2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/config`,
      "[default]\nregion = sa-east-1\n[profile other]\nregion = me-south-1\n",
    );
    {
      using _env = awsEnv({ AWS_CONFIG_FILE: `${dir}/config` });
      assert.deepEqual(await resolveRegion({ env: () => undefined }), {
        region: "sa-east-1",
        from: "the shared AWS config file",
      });
    }
    {
      using _env = awsEnv({ AWS_CONFIG_FILE: `${dir}/config`, AWS_PROFILE: "other" });
      assert.equal((await resolveRegion({ env: () => undefined })).region, "me-south-1");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  using _env = awsEnv({});
  await using imds = startImds({ region: "af-south-1" });
  assert.deepEqual(
    await resolveRegion({
      env: () => undefined,
      instanceRegion: () => imdsRegion({ endpoint: imds.endpoint }),
    }),
    { region: "af-south-1", from: "the EC2 instance metadata" },
  );
});

Deno.test("resolveRegion() tells the operator to pass -r when no source knows the region", async () => {
  using _env = awsEnv({});
  await using silent = startSilentServer();
  // The metadata service never answers: its 1 s default deadline must end the wait, not a hang.
  await withDeadline(
    assert.rejects(
      resolveRegion({
        env: () => undefined,
        instanceRegion: () => imdsRegion({ endpoint: silent.endpoint }),
      }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /pass -r REGION/);
        return true;
      },
    ),
    10_000,
    "the region lookup to give up on a silent metadata service",
  );
});
