/**
 * The real mq2wsbridge, spawned with the permissions it is compiled with
 * (scripts/programs.ts), trims the C heap once traffic stops
 * (lib/heap_trim.ts), and carries every message before and after.
 */
import assert from "node:assert/strict";
import { bridgeValues, spawnBridge, writeIni } from "../_bridge.ts";
import { openBroker } from "../_broker.ts";
import { CHECK_MS } from "../../lib/heap_trim.ts";

Deno.test("mq2wsbridge trims the C heap when traffic stops, and loses nothing around it [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using bridge = spawnBridge(["-c", ini.path, "-X", "-v", "-d"]);
  await bridge.waitForLine(/Bridging/);

  const first = Array.from({ length: 1000 }, (_, i) => `before-${i}`);
  await broker.publish(toWs, first);
  const trimmed = await bridge.waitForLine(/\[memory\] Trimmed the C heap/, 4 * CHECK_MS);
  assert.match(trimmed, /rss_mib_before=\d+ rss_mib_after=\d+ ms=[\d.]+/);
  assert.doesNotMatch(bridge.output, /Not trimming the C heap/);

  const second = Array.from({ length: 1000 }, (_, i) => `after-${i}`);
  await broker.publish(toWs, second);
  const received = await broker.collect(fromWs, first.length + second.length);
  assert.deepEqual(new Set(received.map((m) => m.text)), new Set([...first, ...second]));
  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0, bridge.output);
});
