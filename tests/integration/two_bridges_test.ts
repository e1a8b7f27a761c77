/**
 * Two mq2wsbridge processes on one host, spawned with the program's own
 * permissions (not --allow-all): the second one's start must leave the
 * first one's relay directory alone, so the first can still reconnect to
 * the WebSocket API. (It did not: a start removed every other bridge's
 * directory, because Deno refuses `/proc` to a program without --allow-all
 * and so every other process looked gone.)
 */
import assert from "node:assert/strict";
import { bridgeValues, spawnBridge, writeIni } from "../_bridge.ts";
import { openBroker } from "../_broker.ts";
import { startWsServer } from "../_ws_server.ts";

/** A fresh directory for the bridges' TMPDIR; removed at dispose. */
async function tempParent(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "mq2wsbridge-test-tmpdir-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** The relay directories in `parent`, by name. */
async function relayDirs(parent: string): Promise<string[]> {
  const names = (await Array.fromAsync(Deno.readDir(parent))).map((entry) => entry.name);
  return names.filter((name) => name.startsWith("mq2wsbridge-ws-")).sort();
}

Deno.test("mq2wsbridge keeps reconnecting to the WebSocket API after a second bridge started on the same host [integration]", async () => {
  await using broker = await openBroker();
  await using server = startWsServer();
  await using tmp = await tempParent();
  const env = { TMPDIR: tmp.path };
  const start = async (label: string) => {
    const values = bridgeValues({
      toWs: await broker.queue(`${label}_to_ws`),
      fromWs: await broker.queue(`${label}_from_ws`),
      wsUrl: server.url,
    });
    const ini = await writeIni(values);
    const bridge = spawnBridge(["-c", ini.path, "-v"], env);
    await bridge.waitForLine(/Bridging/);
    return { ini, bridge };
  };
  const first = await start("first");
  await using _firstIni = first.ini;
  await using a = first.bridge;
  const second = await start("second"); // its start looks for directories left behind
  await using _secondIni = second.ini;
  await using b = second.bridge;
  const dirs = await relayDirs(tmp.path);
  assert.ok(dirs.some((name) => name.startsWith(`mq2wsbridge-ws-${a.pid}-`)), `the first's is kept: ${dirs}`);
  assert.ok(
    dirs.some((name) => name.startsWith(`mq2wsbridge-ws-${b.pid}-`)),
    `the second's is there: ${dirs}`,
  );

  server.closeAll(); // both lose their connection and reconnect through their relays
  await a.waitForLine(/Connected to the WebSocket API conn=2 /);
  await b.waitForLine(/Connected to the WebSocket API conn=2 /);
  assert.ok(!/Cannot connect to the WebSocket API/.test(a.output), a.output);

  for (const bridge of [a, b]) bridge.kill("SIGTERM");
  for (const bridge of [a, b]) assert.equal((await bridge.exit()).code, 0, bridge.output);
  assert.deepEqual(await relayDirs(tmp.path), [], "each removes its own at a clean stop");
});
