/**
 * INI files written for the original service (Python configparser, values
 * read with int() and float()): [DEFAULT], number formats, fractional
 * seconds as the README states them, and syntax errors reported together
 * with value errors.
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../config/config.ts";
import { KEYS } from "../../config/keys.ts";
import { iniToRaw } from "../../config/ini_file.ts";

const STUB = { ws: false, logs: false, metrics: false };
const ALL = { ws: true, logs: true, metrics: true };

const BASE = `[ws_api]
client_id = id
client_secret = 00ff
api_host = wss://api.example.com
api_uri = /ws
[aws_mq]
mq_url = amqp://127.0.0.1
mq_qname_to_ws = to_ws
mq_qname_from_ws = from_ws
[aws_cloudwatch]
cw_region = us-east-1
cw_log_group = /org/bridge
cw_log_stream = app
cw_metrics_namespace = /org/bridge
`;

function problems(text: string, needs = ALL): string[] {
  try {
    parseConfig(iniToRaw(text, "t.ini"), needs);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("iniToRaw() applies [DEFAULT]'s keys to every section that knows them, as configparser does", () => {
  const text = "[DEFAULT]\nmq_port = 5672\nws_ping_interval = 5\ncw_region = eu-west-1\n" +
    BASE.replace(
      "mq_url = amqp://127.0.0.1\n",
      "mq_broker_id = b-1\nmq_user_id = u\nmq_password = p\nmq_region = us-east-1\n",
    )
      .replace("[ws_api]", "[ws_api]\nws_ping_interval = 7")
      .replace(/\[aws_cloudwatch\][^]*$/, ""); // no [aws_cloudwatch] section at all
  const raw = iniToRaw(text, "t.ini");
  assert.deepEqual(raw.problems, []);
  assert.equal(raw.values.get("aws_mq.mq_port"), "5672");
  assert.equal(raw.values.get("ws_api.ws_ping_interval"), "7", "the section's own value wins");
  assert.ok(!raw.values.has("ws_api.mq_port") && !raw.values.has("aws_mq.ws_ping_interval"));
  const config = parseConfig(raw, { ws: true, logs: false, metrics: false });
  assert.equal(config.mq.displayUrl, "amqps://u:***@b-1.mq.us-east-1.amazonaws.com:5672");
  assert.equal(config.ws?.pingIntervalSecs, 7);
  assert.equal(config.cloudwatch.region, "eu-west-1", "a section missing from the file gets [DEFAULT] too");
});

Deno.test("iniToRaw() reports a [DEFAULT] key no section knows, and names [DEFAULT] in a value problem", () => {
  const found = problems(`[DEFAULT]\nmq_prot = 5672\nmq_prefetch = lots\n${BASE}`);
  assert.deepEqual(found, [
    "DEFAULT.mq_prot: is not a known setting in any section (misspelt?)",
    'aws_mq.mq_prefetch (from [DEFAULT]): "lots" is not a whole number from 1 to 65535',
  ]);
});

Deno.test("parseConfig() reads numbers as Python's float() and int() do", () => {
  const cases: [string, string, (c: ReturnType<typeof parseConfig>) => number, number][] = [
    ["aws_cloudwatch", "cw_metrics_resolution = 10.0", (c) => c.cloudwatch.metricsResolutionSecs, 10],
    ["aws_cloudwatch", "cw_metrics_resolution =  10 ", (c) => c.cloudwatch.metricsResolutionSecs, 10],
    ["aws_cloudwatch", "cw_metrics_resolution = 1e1", (c) => c.cloudwatch.metricsResolutionSecs, 10],
    ["aws_cloudwatch", "cw_metrics_resolution = 2.5", (c) => c.cloudwatch.metricsResolutionSecs, 2.5],
    ["aws_cloudwatch", "cw_metrics_resolution = 1_0", (c) => c.cloudwatch.metricsResolutionSecs, 10],
    ["aws_mq", "mq_ttl_from_ws = 300_000", (c) => c.mq.ttlFromWsMs, 300_000],
    ["aws_mq", "mq_ttl_from_ws = +3e5", (c) => c.mq.ttlFromWsMs, 300_000],
    ["aws_mq", "mq_prefetch = 0100", (c) => c.mq.prefetch, 100],
    ["ws_api", "ws_ping_interval = .5", (c) => c.ws!.pingIntervalSecs, 0.5],
    ["ws_api", "ws_max_connect_attempts = 3.", (c) => c.ws!.maxConnectAttempts, 3],
  ];
  for (const [section, line, get, expected] of cases) {
    const config = parseConfig(iniToRaw(BASE.replace(`[${section}]`, `[${section}]\n${line}`), "t.ini"), ALL);
    assert.equal(get(config), expected, line);
  }
});

Deno.test("parseConfig() refuses what is not a finite number, or a fraction where a whole number is needed", () => {
  const found = problems(
    BASE.replace(
      "[aws_mq]",
      "[aws_mq]\nmq_prefetch = 1.5\nmq_ttl_from_ws = inf\nmq_reconnect_delay_secs = nan\nmq_heartbeat_secs = 1,5",
    ).replace("[ws_api]", "[ws_api]\nws_attempt_window_secs = infinity\nws_ping_interval = 10s"),
  );
  assert.deepEqual(found, [
    'ws_api.ws_ping_interval: "10s" is not a number from 0 to 86400',
    'ws_api.ws_attempt_window_secs: "infinity" is not a number of at least 0',
    'aws_mq.mq_ttl_from_ws: "inf" is not a whole number from 0 to 4294967295',
    'aws_mq.mq_prefetch: "1.5" is not a whole number from 1 to 65535',
    'aws_mq.mq_reconnect_delay_secs: "nan" is not a number of at least 0',
    'aws_mq.mq_heartbeat_secs: "1,5" is not a whole number from 0 to 65535',
  ]);
});

Deno.test("docs/configuration.md names exactly the keys that accept fractions of a second", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/configuration.md", import.meta.url));
  const sentence = /These accept fractions: ([^.]+)\./.exec(doc);
  assert.ok(sentence, 'the README has a line "These accept fractions: `key`, ..."');
  const documented = [...sentence[1]!.matchAll(/`(\w+)`/g)].map((m) => m[1]).sort();
  const fractional = KEYS.filter((def) => {
    if (def.default === undefined || !/^\d+$/.test(def.default)) return false;
    const value = `${def.default}.5`;
    const text = BASE.replace(`[${def.section}]`, `[${def.section}]\n${def.key} = ${value}`);
    try {
      parseConfig(iniToRaw(text, "t.ini"), ALL);
      return true;
    } catch {
      return false;
    }
  }).map((def) => def.key).sort();
  assert.deepEqual(documented, fractional);
});

Deno.test("parseConfig() reports INI syntax errors and value errors in one list", () => {
  const text = BASE.replace(
    "[aws_mq]",
    "[aws_mq]\nmq_port = abc\nthis line is broken\nmq_qname_to_ws = again",
  )
    .replace("api_uri = /ws", "api_uri = ws");
  assert.deepEqual(problems(text, STUB), [
    'line 8: expected "key = value" or "[section]"',
    'line 11: key "mq_qname_to_ws" appears twice in section [aws_mq] (first on line 9)',
    'ws_api.api_uri: "ws" must start with "/" (e.g. /path/to/ws)',
    'aws_mq.mq_port: "abc" is not a port number (1-65535)',
  ]);
});
