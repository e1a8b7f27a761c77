/**
 * `GET /ready` of the real mq2wsbridge spawned as a process (`--http-listen
 * 127.0.0.1:0 -v`, the port read from its log line), against the real
 * RabbitMQ and a real WebSocket server on loopback: 200 while messages can
 * flow, 503 naming the cause while the WebSocket API or a broker connection
 * is gone, 200 again once the bridge has reconnected by itself.
 */
import assert from "node:assert/strict";
import { type BridgeProcess, bridgeValues, spawnBridge, TEST_CLIENT_SECRET, writeIni } from "../_bridge.ts";
import { AMQP_URL, closeConnectionsNamed, openBroker } from "../_broker.ts";
import { startWsServer } from "../_ws_server.ts";
import { startProxy } from "../_proxy.ts";
import { delay } from "../../lib/async.ts";
import type { Readiness } from "../../bridge/health.ts";

/** How often /ready is asked while waiting for a status. */
const POLL_MS = 25;

/** The endpoint's base URL, from the bridge's "HTTP endpoint listening" line. */
async function endpointOf(bridge: BridgeProcess): Promise<string> {
  const line = await bridge.waitForLine(/HTTP endpoint listening address=127\.0\.0\.1:\d+$/);
  return `http://127.0.0.1:${/:(\d+)$/.exec(line)![1]}`;
}

/** Asks `url` every POLL_MS until its answer satisfies `until`; returns the body; rejects after `ms`, saying what it last saw. */
async function waitForReadiness(
  url: string,
  what: string,
  until: (status: number, body: Readiness) => boolean,
  ms: number,
): Promise<Readiness> {
  const deadline = Date.now() + ms;
  let last = "no answer yet";
  for (;;) {
    try {
      const response = await fetch(url);
      const text = await response.text();
      const body = JSON.parse(text);
      if (until(response.status, body)) return body;
      last = `${response.status} ${text}`;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(`Cannot see ${url} answer ${what} within ${ms} ms; last: ${last}`);
    }
    await delay(POLL_MS);
  }
}

/** Waits until `url` answers `status`; returns the body. */
function waitForStatus(url: string, status: number, ms: number): Promise<Readiness> {
  return waitForReadiness(url, String(status), (got) => got === status, ms);
}

/** Neither the client secret nor the broker password in `text`. */
function assertNoSecret(text: string): void {
  assert.ok(!text.includes(TEST_CLIENT_SECRET), "the client secret is not shown");
  const password = decodeURIComponent(new URL(AMQP_URL).password);
  if (password) assert.ok(!text.includes(`:${password}@`), "the broker password is not shown");
}

Deno.test("mq2wsbridge /ready goes 503 while the WebSocket API is gone and 200 once it is back, and what was queued meanwhile arrives [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using first = startWsServer();
  const port = first.port;
  await using ini = await writeIni(bridgeValues({ toWs, fromWs, wsUrl: first.url }, {
    // The bridge keeps trying through the outage (back-off 250 ms doubling to 10 s).
    "ws_api.ws_max_connect_attempts": "1000",
    "ws_api.ws_attempt_window_secs": "1",
  }));
  await using bridge = spawnBridge(["-c", ini.path, "-v", "--http-listen", "127.0.0.1:0"]);
  const ready = `${await endpointOf(bridge)}/ready`;
  let body = await waitForStatus(ready, 200, 15_000);
  assert.deepEqual(body.reasons, []);
  assert.equal(body.websocket.state, "up");
  await broker.publish(toWs, ["before"]);
  await first.receivedCount(1);
  // Acknowledged before the outage, so it is not handed back and sent again to the second server.
  await waitForReadiness(ready, "to_ws.unacked 0", (_, b) => b.to_ws.unacked === 0, 10_000);

  await first[Symbol.asyncDispose](); // the API goes away: its sockets close, its port is free
  body = await waitForStatus(ready, 503, 10_000);
  assert.equal(body.ready, false);
  assert.equal(body.websocket.state, "down");
  assert.ok(
    body.reasons.some((reason) => /^the WebSocket is down since \d{4}-\d\d-\d\dT/.test(reason)),
    body.reasons.join("; "),
  );
  assert.equal(body.broker.consume.state, "up", "the broker is not blamed");
  const during = Array.from({ length: 20 }, (_, i) => `during-${i}`);
  await broker.publish(toWs, during);

  await using second = startWsServer({ port }); // the API is back, where it was
  body = await waitForStatus(ready, 200, 30_000);
  assert.equal(body.websocket.state, "up");
  assert.ok(body.websocket.connection_attempts > 1, "it reconnected");
  await second.receivedCount(during.length);
  const arrived = new Set(second.received.map(String));
  assert.deepEqual(
    during.filter((m) => !arrived.has(m)),
    [],
    "every message queued during the outage arrived",
  );
  assert.equal(arrived.size, during.length, `nothing else arrived: ${[...arrived].join(", ")}`);
  assertNoSecret(bridge.output + JSON.stringify(body));
  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0, bridge.output);
});

for (const role of ["consume", "publish"] as const) {
  Deno.test(`mq2wsbridge /ready goes 503 while its ${role} connection is closed broker-side and 200 once it reconnects [integration]`, async () => {
    await using broker = await openBroker();
    const toWs = await broker.queue("to_ws");
    const fromWs = await broker.queue("from_ws");
    await using server = startWsServer();
    // The bridge reaches the broker through a forwarder: it reconnects within milliseconds, too
    // short a 503 to see by polling, so the forwarder refuses new connections until the test is
    // done looking (the broker seems down, as during a restart).
    await using forwarder = startProxy(Number(new URL(AMQP_URL).port || 5672));
    const mqUrl = AMQP_URL.replace(/@[^/]+/, `@127.0.0.1:${forwarder.port}`);
    await using ini = await writeIni(bridgeValues({ toWs, fromWs, wsUrl: server.url, mqUrl }));
    await using bridge = spawnBridge(["-c", ini.path, "-v", "--http-listen", "127.0.0.1:0"]);
    const ready = `${await endpointOf(bridge)}/ready`;
    const before = await waitForStatus(ready, 200, 15_000);
    assert.equal(before.broker[role].state, "up");

    forwarder.refusing = true;
    const closed = await closeConnectionsNamed(`mq2wsbridge@${Deno.hostname()} pid ${bridge.pid} ${role}`);
    assert.equal(closed, 1, `the bridge's ${role} connection was found and closed`);
    const body = await waitForStatus(ready, 503, 10_000);
    assert.ok(["down", "connecting"].includes(body.broker[role].state), JSON.stringify(body.broker));
    const name = role === "consume" ? "consumes" : "publishes";
    assert.ok(
      body.reasons.some((reason) =>
        new RegExp(`^the broker connection that ${name} is (down|connecting) since`).test(reason)
      ),
      body.reasons.join("; "),
    );
    assert.equal(body.websocket.state, "up", "the WebSocket is not blamed");
    const other = role === "consume" ? "publish" : "consume";
    assert.equal(body.broker[other].state, "up", `the ${other} connection is not blamed`);
    await bridge.waitForLine(new RegExp(`\\[mq\\.${role}\\] Cannot connect to broker .*retrying`));

    forwarder.refusing = false;
    const after = await waitForStatus(ready, 200, 15_000);
    assert.equal(after.broker[role].state, "up");
    assert.equal(after.broker.consuming, true);
    assert.ok(
      after.broker.connection_attempts > before.broker.connection_attempts + 1,
      `attempts ${before.broker.connection_attempts} -> ${after.broker.connection_attempts}`,
    );
    assert.ok(
      Date.parse(after.broker[role].since) > Date.parse(before.broker[role].since),
      "up since the reconnect",
    );
    await broker.publish(toWs, ["after"]); // and messages flow again
    await server.receivedCount(1);
    assertNoSecret(bridge.output + JSON.stringify(after));
    bridge.kill("SIGTERM");
    assert.equal((await bridge.exit()).code, 0, bridge.output);
  });
}

Deno.test("mq2wsbridge -X /ready is 200 once bridging; after SIGTERM it exits 0 and the endpoint is gone [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using bridge = spawnBridge(["-c", ini.path, "-X", "-v", "--http-listen", "127.0.0.1:0"]);
  const base = await endpointOf(bridge);
  const body = await waitForStatus(`${base}/ready`, 200, 15_000);
  assert.equal(body.websocket.stub, true);
  assert.equal(body.websocket.state, "up");
  assert.match(bridge.output, /Bridging .*mode=stub/);
  const ping = await fetch(`${base}/ping`);
  assert.deepEqual([ping.status, await ping.text()], [200, "pong\n"]);

  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0, bridge.output);
  assert.match(bridge.output, /Stopped/);
  const { port } = new URL(base);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: Number(port) }),
    Deno.errors.ConnectionRefused,
    "nothing listens on the endpoint's port any more",
  );
  assertNoSecret(bridge.output + JSON.stringify(body));
});
