import assert from "node:assert/strict";
import { ConfigError, parseConfig, type RawConfig } from "../../config/config.ts";
import { KEYS } from "../../config/keys.ts";
import { iniToRaw, readIniFile } from "../../config/ini_file.ts";
import { COALESCE_MS } from "../../handlers/ws/write_pacing.ts";

const STUB = { ws: false, logs: false, metrics: false };
const ALL = { ws: true, logs: true, metrics: true };

const MINIMAL: Record<string, string> = {
  "ws_api.client_id": "id",
  "ws_api.client_secret": "00ff",
  "ws_api.api_host": "wss://api.example.com",
  "ws_api.api_uri": "/ws",
  "aws_mq.mq_broker_id": "b-1234",
  "aws_mq.mq_user_id": "user",
  "aws_mq.mq_password": "password",
  "aws_mq.mq_region": "us-east-1",
  "aws_mq.mq_qname_to_ws": "to_ws",
  "aws_mq.mq_qname_from_ws": "from_ws",
  "aws_cloudwatch.cw_region": "us-east-1",
  "aws_cloudwatch.cw_log_group": "/org/bridge",
  "aws_cloudwatch.cw_log_stream": "app",
  "aws_cloudwatch.cw_metrics_namespace": "/org/bridge",
};

function raw(values: Record<string, string>): RawConfig {
  return { source: "test.ini", values: new Map(Object.entries(values)) };
}

function problems(values: Record<string, string>, needs = ALL): string[] {
  try {
    parseConfig(raw(values), needs);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseConfig() fills in every default of the original and of our own keys", () => {
  const config = parseConfig(raw(MINIMAL), ALL);
  assert.deepEqual(
    { ...config.ws, clientSecret: undefined },
    {
      apiHost: "wss://api.example.com",
      apiUri: "/ws",
      clientId: "id",
      clientSecret: undefined,
      pingIntervalSecs: 10,
      maxConnectAttempts: 10,
      attemptWindowSecs: 60,
      connectTimeoutSecs: 10,
      ackDelayMs: 100,
      maxBufferedBytes: 1_048_576,
      maxMessageBytes: 67_108_864,
      noDelay: true,
      coalesceMs: 2,
      caFile: null,
    },
  );
  const { url: _url, ...mq } = config.mq;
  assert.deepEqual(mq, {
    displayUrl: "amqps://user:***@b-1234.mq.us-east-1.amazonaws.com:5671",
    caFile: null,
    queueToWs: "to_ws",
    queueFromWs: "from_ws",
    ttlFromWsMs: 300_000,
    consumerTag: "mqhandler",
    prefetch: 2000,
    bufferLimit: 10_000,
    bufferBytes: 16_777_216,
    queueType: "classic",
    maxConnectAttempts: 5,
    reconnectDelaySecs: 2,
    heartbeatSecs: 30,
  });
  assert.equal(config.cloudwatch.retentionDays, 30);
  assert.equal(config.cloudwatch.metricsResolutionSecs, 10);
});

Deno.test("ws_coalesce_ms's documented default is the relay's own (handlers/ws/write_pacing.ts)", () => {
  assert.equal(KEYS.find((k) => k.key === "ws_coalesce_ms")?.default, String(COALESCE_MS));
});

Deno.test("parseConfig() defaults match the documented defaults in config/keys.ts", () => {
  const config = parseConfig(raw(MINIMAL), ALL);
  const resolved: Record<string, unknown> = {
    "ws_api.ws_ping_interval": config.ws?.pingIntervalSecs,
    "ws_api.ws_max_connect_attempts": config.ws?.maxConnectAttempts,
    "ws_api.ws_attempt_window_secs": config.ws?.attemptWindowSecs,
    "ws_api.ws_connect_timeout_secs": config.ws?.connectTimeoutSecs,
    "ws_api.ws_ack_delay_ms": config.ws?.ackDelayMs,
    "ws_api.ws_max_buffered_bytes": config.ws?.maxBufferedBytes,
    "ws_api.ws_max_message_bytes": config.ws?.maxMessageBytes,
    "ws_api.ws_no_delay": config.ws?.noDelay,
    "ws_api.ws_coalesce_ms": config.ws?.coalesceMs,
    "aws_mq.mq_port": 5671, // visible in the URL, checked above
    "aws_mq.mq_ttl_from_ws": config.mq.ttlFromWsMs,
    "aws_mq.mq_consumer_tag": config.mq.consumerTag,
    "aws_mq.mq_prefetch": config.mq.prefetch,
    "aws_mq.mq_buffer_limit": config.mq.bufferLimit,
    "aws_mq.mq_buffer_bytes": config.mq.bufferBytes,
    "aws_mq.mq_queue_type": config.mq.queueType,
    "aws_mq.mq_max_connect_attempts": config.mq.maxConnectAttempts,
    "aws_mq.mq_reconnect_delay_secs": config.mq.reconnectDelaySecs,
    "aws_mq.mq_heartbeat_secs": config.mq.heartbeatSecs,
    "aws_cloudwatch.cw_retention_days": config.cloudwatch.retentionDays,
    "aws_cloudwatch.cw_metrics_resolution": config.cloudwatch.metricsResolutionSecs,
    "service.log_format": config.service.logFormat,
  };
  for (const def of KEYS.filter((k) => k.default !== undefined)) {
    const key = `${def.section}.${def.key}`;
    assert.equal(String(resolved[key]), def.default, key);
  }
});

Deno.test("parseConfig() loads the original service's example INI unchanged", async () => {
  const text = await Deno.readTextFile(new URL("../fixtures/original-example.ini", import.meta.url));
  const config = parseConfig(iniToRaw(text, "original-example.ini"), ALL);
  assert.equal(
    config.mq.displayUrl,
    "amqps://mquserid:***@b-22222222-2222-2222-2222-222222222222.mq.us-east-1.amazonaws.com:5671",
  );
  assert.equal(
    config.mq.url.reveal(),
    "amqps://mquserid:mquserpassword@b-22222222-2222-2222-2222-222222222222.mq.us-east-1.amazonaws.com:5671",
  );
  assert.equal(config.ws?.apiHost + config.ws!.apiUri, "wss://api.somewhere.com/path/to/ws");
  assert.equal(config.cloudwatch.logGroup, "/org/bridge");
});

Deno.test("parseConfig() loads our documented example INI", async () => {
  const text = await Deno.readTextFile(new URL("../../mq2wsbridge.example.ini", import.meta.url));
  parseConfig(iniToRaw(text, "mq2wsbridge.example.ini"), ALL);
});

Deno.test("the example INI documents every known key", async () => {
  const text = await Deno.readTextFile(new URL("../../mq2wsbridge.example.ini", import.meta.url));
  for (const def of KEYS) {
    assert.match(text, new RegExp(`^#? ?${def.key} =`, "m"), `${def.section}.${def.key}`);
  }
});

Deno.test("parseConfig() URL-encodes the user and password into the Amazon MQ URL", () => {
  const config = parseConfig(
    raw({ ...MINIMAL, "aws_mq.mq_user_id": "me@corp", "aws_mq.mq_password": "p:w/d%@" }),
    ALL,
  );
  assert.equal(
    config.mq.url.reveal(),
    "amqps://me%40corp:p%3Aw%2Fd%25%40@b-1234.mq.us-east-1.amazonaws.com:5671",
  );
});

Deno.test("parseConfig() lets mq_url replace broker id, region and port, adding the credentials it lacks", () => {
  const values: Record<string, string> = { ...MINIMAL, "aws_mq.mq_url": "amqp://127.0.0.1:5672/vhost" };
  delete values["aws_mq.mq_broker_id"];
  delete values["aws_mq.mq_region"];
  assert.equal(parseConfig(raw(values), ALL).mq.url.reveal(), "amqp://user:password@127.0.0.1:5672/vhost");
  const own = parseConfig(raw({ ...values, "aws_mq.mq_url": "amqps://other:secret@broker:5671" }), ALL);
  assert.equal(own.mq.url.reveal(), "amqps://other:secret@broker:5671");
  assert.equal(own.mq.displayUrl, "amqps://other:***@broker:5671");
});

Deno.test("parseConfig() reports every problem at once, each naming its section.key", () => {
  const found = problems({
    ...MINIMAL,
    "aws_mq.mq_port": "abc",
    "ws_api.ws_ping_interval": "-1",
    "ws_api.ws_coalesce_ms": "1001",
    "ws_api.api_host": "https://api.example.com",
    "ws_api.api_uri": "path",
    "aws_mq.mq_ttl_from_ws": "1.5",
    "aws_mq.mq_consumer_tag": "  ",
    "aws_mq.mq_region": "Virginia",
    "aws_cloudwatch.cw_retention_days": "31",
    "aws_mq.mq_qname_from_ws": "to_ws",
    "aws_mq.mq_prefetch_count": "10",
  });
  assert.deepEqual(found, [
    "aws_mq.mq_prefetch_count: is not a known setting (misspelt?)",
    'ws_api.api_host: "https://api.example.com" is not a ws:// or wss:// URL (e.g. wss://api.example.com, ' +
    "or wss://abc123.execute-api.us-east-1.amazonaws.com/prod)",
    'ws_api.api_uri: "path" must start with "/" (e.g. /path/to/ws)',
    'ws_api.ws_ping_interval: "-1" is not a number from 0 to 86400',
    'ws_api.ws_coalesce_ms: "1001" is not a whole number from 0 to 1000',
    'aws_mq.mq_port: "abc" is not a port number (1-65535)',
    'aws_mq.mq_region: "Virginia" is not an AWS region (e.g. us-east-1)',
    'aws_mq.mq_qname_from_ws: must differ from mq_qname_to_ws ("to_ws"), or messages would loop',
    "aws_mq.mq_consumer_tag: may not be blank",
    'aws_mq.mq_ttl_from_ws: "1.5" is not a whole number from 0 to 4294967295',
    'aws_cloudwatch.cw_retention_days: "31" is not one of the retention periods CloudWatch accepts ' +
    "(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)",
  ]);
});

Deno.test("parseConfig() names every missing required key", () => {
  assert.deepEqual(problems({}), [
    "ws_api.client_id: is required but not set",
    "ws_api.client_secret: is required but not set",
    "ws_api.api_host: is required but not set",
    "ws_api.api_uri: is required but not set",
    "aws_mq.mq_user_id: is required but not set",
    "aws_mq.mq_password: is required but not set",
    "aws_mq.mq_broker_id: is required but not set",
    "aws_mq.mq_region: is required but not set",
    "aws_mq.mq_qname_to_ws: is required but not set",
    "aws_mq.mq_qname_from_ws: is required but not set",
    "aws_cloudwatch.cw_region: is required but not set",
    "aws_cloudwatch.cw_log_group: is required but not set",
    "aws_cloudwatch.cw_log_stream: is required but not set",
    "aws_cloudwatch.cw_metrics_namespace: is required but not set",
  ]);
});

Deno.test("parseConfig() needs no WebSocket or CloudWatch keys in stub mode without -l/-m", () => {
  const config = parseConfig(
    raw({ "aws_mq.mq_url": "amqp://h", "aws_mq.mq_qname_to_ws": "a", "aws_mq.mq_qname_from_ws": "b" }),
    STUB,
  );
  assert.equal(config.ws, null);
  assert.equal(config.cloudwatch.region, null);
});

Deno.test("parseConfig() never puts a secret's value in a problem", () => {
  const found = problems({
    ...MINIMAL,
    "ws_api.client_secret": "not-hex-SECRETVALUE",
    "aws_mq.mq_url": "http://user:SECRETPASS@host",
  }).join("\n");
  assert.match(found, /ws_api\.client_secret: must be a hex string/);
  assert.match(found, /aws_mq\.mq_url: must start with amqp:\/\/ or amqps:\/\//);
  assert.ok(!found.includes("SECRETVALUE") && !found.includes("SECRETPASS"), found);
});

Deno.test("parseConfig() labels keys the way the source names them", () => {
  const source = {
    ...raw({ ...MINIMAL, "aws_mq.mq_port": "x" }),
    label: (key: string) => `/mq2wsbridge/${key.replace(".", "/")}`,
  };
  assert.throws(() => parseConfig(source, ALL), /\/mq2wsbridge\/aws_mq\/mq_port: "x" is not a port number/);
});

Deno.test("parseConfig() returns a frozen object whose secrets print as ***", () => {
  const config = parseConfig(raw({ ...MINIMAL, "aws_mq.mq_password": "s3cr3t-pw" }), ALL);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.mq));
  for (const text of [JSON.stringify(config), Deno.inspect(config, { depth: 10 }), `${config.mq.url}`]) {
    assert.ok(!text.includes("s3cr3t-pw") && !text.includes("00ff"), text);
  }
});

Deno.test("readIniFile() warns when the file is readable by others and names a missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/bridge.ini`;
    await Deno.writeTextFile(path, "[aws_mq]\nmq_port = 5671\n", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const open = await readIniFile(path);
    assert.match(open.warnings[0]!, /readable by group or others \(mode 0644\).*chmod 600/);
    await Deno.chmod(path, 0o600);
    assert.deepEqual((await readIniFile(path)).warnings, []);
    await assert.rejects(
      () => readIniFile(`${dir}/missing.ini`),
      /missing\.ini:\n {2}the file does not exist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docs/configuration.md's table lists every key, in order, with the defaults the code uses", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/configuration.md", import.meta.url));
  const rows = [...doc.matchAll(/^\| `(\w+)\.(\w+)` +\| ([^|]+?) +\|/gm)].map((m) => ({
    key: `${m[1]}.${m[2]}`,
    default: m[3]!,
  }));
  assert.deepEqual(rows.map((r) => r.key), KEYS.map((k) => `${k.section}.${k.key}`));
  for (const [i, def] of KEYS.entries()) {
    const documented = rows[i]!.default;
    if (def.default !== undefined) assert.equal(documented, def.default, rows[i]!.key);
    else assert.match(documented, /^(required|none)/, rows[i]!.key);
  }
});

Deno.test("parseConfig() accepts an api_host with a path (an API Gateway stage): URL = api_host + api_uri", () => {
  const stage = "wss://abc123.execute-api.us-east-1.amazonaws.com/prod";
  for (
    const [apiHost, apiUri, url] of [
      [stage, "/", `${stage}/`],
      [stage, "/ws?v=2", `${stage}/ws?v=2`],
      ["ws://127.0.0.1:8080/a/b", "/c", "ws://127.0.0.1:8080/a/b/c"],
      ["WSS://API.example.com", "/ws", "WSS://API.example.com/ws"],
    ]
  ) {
    const ws = parseConfig(raw({ ...MINIMAL, "ws_api.api_host": apiHost!, "ws_api.api_uri": apiUri! }), ALL)
      .ws!;
    assert.equal(ws.apiHost, apiHost, "kept as written: it is the token's host claim");
    assert.equal(ws.apiHost + ws.apiUri, url);
  }
});

Deno.test("parseConfig() refuses an api_host that cannot be joined with api_uri, naming what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["api.example.com", /"api\.example\.com" is not a ws:\/\/ or wss:\/\/ URL/],
    ["https://api.example.com/prod", /is not a ws:\/\/ or wss:\/\/ URL/],
    ["wss://", /is not a ws:\/\/ or wss:\/\/ URL/],
    ["wss://api.example.com/prod?stage=1", /may not hold a query, a fragment or spaces/],
    ["wss://api.example.com/#x", /may not hold a query, a fragment or spaces/],
    ["wss://user:pw@api.example.com", /^ws_api\.api_host: may not hold a user name or password/],
  ];
  for (const [apiHost, why] of cases) {
    const found = problems({ ...MINIMAL, "ws_api.api_host": apiHost });
    assert.equal(found.length, 1, apiHost);
    assert.match(found[0]!, why);
    assert.match(found[0]!, /^ws_api\.api_host: /);
  }
});

Deno.test("parseConfig() never shows a password or token someone put in api_host", () => {
  for (const apiHost of ["https://me:hunter2@api.example.com", "wss://api.example.com/prod?token=hunter2"]) {
    const found = problems({ ...MINIMAL, "ws_api.api_host": apiHost }).join("\n");
    assert.match(found, /^ws_api\.api_host: /);
    assert.ok(!found.includes("hunter2"), found);
  }
});
