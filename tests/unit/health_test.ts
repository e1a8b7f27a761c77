/**
 * Readiness (bridge/health.ts): BridgeHealth alone, with a wall clock the
 * test sets and a real MetricsRegistry for the `*_connected` gauges; then
 * runBridge() on fakes, to show the wiring moves it as the WebSocket side
 * opens and closes and the broker sessions go down and up.
 */
import assert from "node:assert/strict";
import { BridgeHealth, type HealthSources } from "../../bridge/health.ts";
import { runBridge } from "../../bridge/bridge.ts";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { createLogger } from "../../lib/log.ts";
import { FakeSource, FakeTarget, FakeTimers, FakeWsSide } from "../_fakes.ts";
import { bridgeValues, testConfig, WatchedSink } from "../_bridge.ts";

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
const iso = (ms: number) => new Date(ms).toISOString();

/** A BridgeHealth whose wall clock is `clock.now`, with sources the test sets. */
function setup({ stub = false } = {}) {
  const clock = { now: T0 };
  const metrics = new MetricsRegistry();
  const health = new BridgeHealth({
    stub,
    metrics,
    attempts: (side) => side === "mq" ? 3 : 5,
    wallNow: () => clock.now,
  });
  const state = { consuming: false, unacked: 0, buffered: { count: 0, bytes: 0 } };
  const sources: HealthSources = {
    consuming: () => state.consuming,
    unacked: () => state.unacked,
    buffered: () => state.buffered,
  };
  health.attach(sources);
  return { clock, metrics, health, state };
}

/** Every link up and the consumer running. */
function allUp(health: BridgeHealth, state: { consuming: boolean }): void {
  health.set("consume", "up");
  health.set("publish", "up");
  health.set("ws", "up");
  state.consuming = true;
}

Deno.test("BridgeHealth starts not ready, with a reason for each link, all connecting since the start", () => {
  const { health } = setup();
  const r = health.readiness();
  assert.equal(r.ready, false);
  assert.deepEqual(r.reasons, [
    `the broker connection that consumes is connecting since ${iso(T0)}`,
    `the broker connection that publishes is connecting since ${iso(T0)}`,
    `the WebSocket is connecting since ${iso(T0)}`,
  ]);
  assert.deepEqual(r.broker.consume, { state: "connecting", since: iso(T0) });
  assert.deepEqual(r.broker.publish, { state: "connecting", since: iso(T0) });
  assert.equal(r.websocket.state, "connecting");
  assert.equal(r.broker.consuming, false);
});

Deno.test("BridgeHealth before attach() reports no consumer and zero counts", () => {
  const health = new BridgeHealth({ stub: false, metrics: new MetricsRegistry(), wallNow: () => T0 });
  health.set("consume", "up");
  health.set("ws", "up");
  const r = health.readiness();
  assert.equal(r.broker.consuming, false);
  assert.ok(r.reasons.includes("the consumer is not running"), r.reasons.join("; "));
  assert.deepEqual([r.to_ws, r.from_ws], [{ unacked: 0 }, { buffered: 0, buffered_bytes: 0 }]);
  assert.deepEqual([r.broker.connection_attempts, r.websocket.connection_attempts], [0, 0]);
});

Deno.test("BridgeHealth names the WebSocket, not the consumer it cancels on purpose, while the WebSocket is down", () => {
  const health = new BridgeHealth({ stub: false, metrics: new MetricsRegistry(), wallNow: () => T0 });
  health.attach({ consuming: () => false, unacked: () => 0, buffered: () => ({ count: 0, bytes: 0 }) });
  for (const link of ["consume", "publish"] as const) health.set(link, "up");
  health.set("ws", "down");
  assert.deepEqual(health.readiness().reasons, [`the WebSocket is down since ${new Date(T0).toISOString()}`]);
});

Deno.test("BridgeHealth is ready only when consume is up and consuming, publish is up and the WebSocket is up", () => {
  const { health, state } = setup();
  allUp(health, state);
  assert.deepEqual(health.readiness().reasons, []);
  assert.equal(health.readiness().ready, true);
  const missing: [string, () => void, () => void, RegExp][] = [
    [
      "consume down",
      () => health.set("consume", "down"),
      () => health.set("consume", "up"),
      /consumes is down/,
    ],
    ["not consuming", () => state.consuming = false, () => state.consuming = true, /consumer is not running/],
    [
      "publish down",
      () => health.set("publish", "down"),
      () => health.set("publish", "up"),
      /publishes is down/,
    ],
    ["ws down", () => health.set("ws", "down"), () => health.set("ws", "up"), /the WebSocket is down/],
  ];
  for (const [what, breakIt, fixIt, reason] of missing) {
    breakIt();
    const r = health.readiness();
    assert.equal(r.ready, false, what);
    assert.equal(r.reasons.length, 1, `${what}: ${r.reasons.join("; ")}`);
    assert.match(r.reasons[0]!, reason, what);
    fixIt();
    assert.equal(health.readiness().ready, true, `${what} fixed`);
  }
});

Deno.test("BridgeHealth.set() moves since only on a real transition", () => {
  const { clock, health } = setup();
  clock.now = T0 + 1_000;
  health.set("consume", "up");
  assert.equal(health.consume.since, T0 + 1_000);
  clock.now = T0 + 2_000;
  health.set("consume", "up"); // the same state again: a second onUp, a repeated report
  assert.deepEqual(health.consume, { state: "up", since: T0 + 1_000 });
  assert.deepEqual(health.readiness().broker.consume, { state: "up", since: iso(T0 + 1_000) });
  clock.now = T0 + 3_000;
  health.set("consume", "down");
  assert.deepEqual(health.consume, { state: "down", since: T0 + 3_000 });
  assert.deepEqual(health.publish, { state: "connecting", since: T0 }, "the other links keep theirs");
  assert.deepEqual(health.ws, { state: "connecting", since: T0 });
});

Deno.test("BridgeHealth in stub mode names the stub loopback and says stub: true", () => {
  const { health, state } = setup({ stub: true });
  const r = health.readiness();
  assert.equal(r.websocket.stub, true);
  assert.ok(r.reasons.includes(`the stub loopback is connecting since ${iso(T0)}`), r.reasons.join("; "));
  assert.ok(!r.reasons.some((reason) => reason.includes("WebSocket")), r.reasons.join("; "));
  allUp(health, state);
  assert.equal(health.readiness().ready, true);
  assert.equal(setup().health.readiness().websocket.stub, false);
});

Deno.test("BridgeHealth reports the counts and connection attempts its sources give, read at each call", () => {
  const { health, state } = setup();
  state.unacked = 7;
  state.buffered = { count: 2, bytes: 300 };
  let r = health.readiness();
  assert.deepEqual(r.to_ws, { unacked: 7 });
  assert.deepEqual(r.from_ws, { buffered: 2, buffered_bytes: 300 });
  assert.equal(r.broker.connection_attempts, 3);
  assert.equal(r.websocket.connection_attempts, 5);
  state.unacked = 0;
  r = health.readiness();
  assert.deepEqual(r.to_ws, { unacked: 0 });
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r, "the body is plain JSON");
});

Deno.test("BridgeHealth gauges are 1 while a link is up and 0 otherwise", () => {
  const { metrics, health } = setup();
  const gauges = () => {
    const g = metrics.snapshot().gauges;
    return [g.mq_consume_connected, g.mq_publish_connected, g.ws_connected];
  };
  assert.deepEqual(gauges(), [0, 0, 0]);
  health.set("consume", "up");
  assert.deepEqual(gauges(), [1, 0, 0]);
  health.set("publish", "up");
  health.set("ws", "up");
  assert.deepEqual(gauges(), [1, 1, 1]);
  health.set("ws", "down");
  assert.deepEqual(gauges(), [1, 1, 0]);
  health.closeAll();
  assert.deepEqual(gauges(), [0, 0, 0]);
});

Deno.test("BridgeHealth.closeAll() marks every link closed since then and is not ready", () => {
  const { clock, health, state } = setup();
  allUp(health, state);
  clock.now = T0 + 5_000;
  health.closeAll();
  for (const link of [health.consume, health.publish, health.ws]) {
    assert.deepEqual(link, { state: "closed", since: T0 + 5_000 });
  }
  const r = health.readiness();
  assert.equal(r.ready, false);
  assert.deepEqual(r.reasons, [
    `the broker connection that consumes is closed since ${iso(T0 + 5_000)}`,
    `the broker connection that publishes is closed since ${iso(T0 + 5_000)}`,
    `the WebSocket is closed since ${iso(T0 + 5_000)}`,
  ]);
  clock.now = T0 + 6_000;
  health.closeAll();
  assert.equal(health.ws.since, T0 + 5_000, "a second closeAll() changes nothing");
  health.set("consume", "down"); // a connection's last move during the shutdown
  health.set("ws", "up");
  assert.deepEqual([health.consume.state, health.ws.state], ["closed", "closed"], "closed stays closed");
});

Deno.test("runBridge() with fakes: readiness follows the WebSocket's open and close and the sessions' up and down", async () => {
  const values = bridgeValues({ toWs: "to", fromWs: "from", wsUrl: "ws://127.0.0.1:9" });
  const config = testConfig(values);
  const consumer = new FakeSource();
  const publisher = new FakeTarget();
  const metrics = new MetricsRegistry();
  const health = new BridgeHealth({ stub: false, metrics });
  let side: FakeWsSide | null = null;
  const controller = new AbortController();
  const sink = new WatchedSink();
  const done = runBridge({
    config,
    consumer,
    publisher,
    createWs: (handlers) => side = new FakeWsSide(handlers),
    log: createLogger({ sink, info: true, debug: false }),
    metrics,
    clock: new FakeTimers(),
    health,
  }, controller.signal);
  await sink.waitFor(/Bridging .*mode=websocket/);
  const ws = side as FakeWsSide | null;
  assert.ok(ws, "the WebSocket side was created");
  const states = () => [health.consume.state, health.publish.state, health.ws.state];
  assert.deepEqual(health.readiness().reasons, []);
  assert.equal(health.readiness().ready, true);
  assert.equal(health.readiness().broker.consuming, true);

  ws.drop();
  let r = health.readiness();
  assert.equal(r.ready, false);
  assert.equal(r.websocket.state, "down");
  assert.ok(r.reasons.some((reason) => /^the WebSocket is down since /.test(reason)), r.reasons.join("; "));
  assert.equal(r.broker.consuming, false, "consumption pauses while the WebSocket is down");
  ws.reopen();
  assert.deepEqual(health.readiness().reasons, []);

  consumer.goDown();
  r = health.readiness();
  assert.deepEqual(states(), ["down", "up", "up"]);
  assert.match(r.reasons.join("; "), /the broker connection that consumes is down since/);
  consumer.goUp();
  assert.equal(health.readiness().ready, true);

  publisher.goDown();
  assert.deepEqual(states(), ["up", "down", "up"]);
  assert.equal(health.readiness().ready, false);
  publisher.goUp();
  assert.equal(health.readiness().ready, true);
  assert.equal(metrics.snapshot().gauges.ws_connected, 1);

  controller.abort();
  await done;
  assert.deepEqual(states(), ["closed", "closed", "closed"]);
  assert.equal(health.readiness().ready, false);
});

Deno.test("runBridge() with fakes in stub mode is ready once bridging and not while the publishing connection is down", async () => {
  const values = bridgeValues({ toWs: "to", fromWs: "from" });
  const config = testConfig(values, { ws: false });
  const consumer = new FakeSource();
  const publisher = new FakeTarget();
  const metrics = new MetricsRegistry();
  const health = new BridgeHealth({ stub: true, metrics });
  const controller = new AbortController();
  const sink = new WatchedSink();
  const done = runBridge({
    config,
    consumer,
    publisher,
    createWs: null,
    log: createLogger({ sink, info: true, debug: false }),
    metrics,
    clock: new FakeTimers(),
    health,
  }, controller.signal);
  await sink.waitFor(/Bridging .*mode=stub/);
  assert.deepEqual(health.readiness().reasons, []);
  publisher.goDown(); // the loopback closes with it
  const reasons = health.readiness().reasons.join("; ");
  assert.match(reasons, /publishes is down/);
  assert.match(reasons, /the stub loopback is down/);
  publisher.goUp();
  assert.deepEqual(health.readiness().reasons, []);
  controller.abort();
  await done;
});
