/**
 * `mq2wsbridge --log-format json` end to end: the real CLI spawned as a
 * process in stub mode against the real broker, with `-v -d` so that every
 * level and the per-message DEBUG lines are written, and a broker password
 * and client secret that JSON would escape. Every line it prints must be one
 * JSON object with `time`, `level`, `component` and `msg`, and none may hold
 * a secret, raw or escaped.
 */
import assert from "node:assert/strict";
import { type BridgeProcess, bridgeValues, spawnBridge, TEST_CLIENT_SECRET, writeIni } from "../_bridge.ts";
import { brokerUser, openBroker } from "../_broker.ts";

/** Waits for the "Bridging" line; fails at once, with the output, if the bridge exits first. */
async function bridging(bridge: BridgeProcess): Promise<void> {
  const exited = bridge.status.then((status) => {
    throw new Error(`mq2wsbridge exited (status ${status.code}) before bridging:\n${bridge.output}`);
  });
  await Promise.race([bridge.waitForLine(/Bridging/, 20_000), exited]);
}

/** A secret as it could leak into a line: raw, JSON-escaped, URL-encoded. */
function forms(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)];
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

Deno.test("mq2wsbridge --log-format json -v -d writes every line as a JSON object with time, level, component and msg, and no secret [integration]", async () => {
  // A password JSON must escape (quote, backslash): its escaped form must not leak either.
  await using user = await brokerUser({ password: `pw"q\\${crypto.randomUUID()}` });
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  // `%` is configparser's interpolation character: the URL-encoded password doubles it.
  const mqUrl = user.url.replaceAll("%", "%%");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs, mqUrl }));
  await using bridge = spawnBridge([
    "-c",
    ini.path,
    "--log-format",
    "json",
    "-v",
    "-d",
    "-X",
    "--runsecs",
    "120", // a bound only: the test stops it with SIGTERM once the messages are through
  ]);
  await bridging(bridge);

  // Stub mode forwards each to_ws message to from_ws, with one DEBUG line each; one
  // body carries the secrets, which its DEBUG line must show redacted.
  const bodies = [
    "json-1",
    'json "2" with \\ and \u00e9',
    `carrying ${user.password} and ${TEST_CLIENT_SECRET}`,
  ];
  await broker.publish(toWs, bodies);
  const through = await broker.collect(fromWs, bodies.length);
  assert.deepEqual(through.map((m) => m.text).sort(), [...bodies].sort());
  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0, bridge.output);

  const lines = bridge.lines; // all of standard output and standard error, read to the end: all JSON
  assert.ok(lines.length > bodies.length, bridge.output);
  const records = lines.map((line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch (err) {
      throw new Error(`Cannot parse a log line as JSON: ${line}`, { cause: err });
    }
    assert.ok(record !== null && typeof record === "object" && !Array.isArray(record), line);
    assert.match(String(record.time), ISO_8601, line);
    assert.ok(["debug", "info", "warn", "error"].includes(String(record.level)), line);
    assert.ok(typeof record.component === "string" && record.component !== "", line);
    assert.ok(typeof record.msg === "string" && record.msg !== "", line);
    for (const secret of [user.password, TEST_CLIENT_SECRET]) {
      for (const form of forms(secret)) assert.ok(!line.includes(form), `a secret in: ${line}`);
    }
    return record;
  });

  const levels = new Set(records.map((r) => r.level));
  assert.ok(levels.has("info") && levels.has("debug"), `-v and -d lines: ${[...levels]}`);
  const forwarded = records.filter((r) =>
    r.level === "debug" && /Forwarded to the from_ws/.test(String(r.msg))
  );
  assert.equal(forwarded.length, bodies.length, bridge.output);
  // Fields are top-level keys with their JSON types; the body preview is decoded text.
  const previews = forwarded.map((r) => r.body);
  assert.ok(previews.includes('json "2" with \\ and \u00e9'), JSON.stringify(previews));
  assert.ok(previews.includes("carrying *** and ***"), JSON.stringify(previews));
  assert.ok(forwarded.every((r) => r.queue === toWs && typeof r.bytes === "number" && r.text === true));
  assert.ok(records.some((r) => /^Stopped/.test(String(r.msg))), "the shutdown lines are JSON too");
});

Deno.test("log_format = json in [service]: the lines written before the configuration was read come out as JSON too [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  // Mode 0644: the warning about the file's mode is logged before the file's settings are known.
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }, { "service.log_format": "json" }), 0o644);
  await using bridge = spawnBridge(["-c", ini.path, "-v", "-X"]);
  await bridging(bridge);
  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0);
  const records = bridge.lines.filter((line) => line !== "").map((line) => JSON.parse(line));
  const early = records.find((r) => /readable by group or others/.test(r.msg));
  assert.ok(early, `the mode warning, as JSON:\n${bridge.output}`);
  assert.equal(early.level, "warn");
  assert.ok(records.some((r) => r.msg === "Bridging"), "and the lines after it");
});
