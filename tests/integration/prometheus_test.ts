/**
 * `/metrics` as a real Prometheus sees it: the bridge (the real CLI, stub
 * mode) bridges a known number of messages, a Prometheus server on loopback
 * scrapes it once a second, and its query API must return the bridge's
 * counter equal to the messages sent through.
 */
import assert from "node:assert/strict";
import { openBroker } from "../_broker.ts";
import { bridgeValues, spawnBridge, writeIni } from "../_bridge.ts";
import { startPrometheus } from "../_prometheus.ts";

const COUNT = 250;

Deno.test("a real Prometheus scrapes /metrics: mq2wsbridge_to_ws_total equals the messages bridged [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("prom-to-ws");
  const fromWs = await broker.queue("prom-from-ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using bridge = spawnBridge(["-c", ini.path, "-X", "-v", "--http-listen", "127.0.0.1:0"]);
  const address = / address=(\S+)/.exec(await bridge.waitForLine(/HTTP endpoint listening/))![1]!;
  await bridge.waitForLine(/Bridging/);
  await broker.publish(toWs, Array.from({ length: COUNT }, (_, i) => `message ${i}`));
  const forwarded = await broker.collect(fromWs, COUNT, 20_000);
  assert.equal(new Set(forwarded.map((m) => m.text)).size, COUNT);

  await using prometheus = await startPrometheus([address]);
  const deadline = Date.now() + 30_000;
  let seen: number | null = null;
  while (Date.now() < deadline) {
    const [sample] = await prometheus.query("mq2wsbridge_to_ws_total");
    seen = sample?.value ?? null;
    if (seen === COUNT) break;
    await new Promise((resolve) => setTimeout(resolve, 250)); // polling the query API until the next scrape lands
  }
  assert.equal(seen, COUNT, "mq2wsbridge_to_ws_total as Prometheus stored it");
  const [up] = await prometheus.query('up{job="mq2wsbridge"}');
  assert.equal(up?.value, 1, "the scrape succeeded");
  const [fromWsTotal] = await prometheus.query("mq2wsbridge_from_ws_total");
  assert.equal(fromWsTotal?.value, COUNT, "stub mode: every forward is a from_ws publish");
  const [build] = await prometheus.query("mq2wsbridge_build_info");
  assert.ok(build?.metric.version, "build_info carries the version");

  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0);
});
