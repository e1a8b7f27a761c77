/**
 * The bridge end to end, in-process: the real RabbitMQ, real WebSocket
 * servers on loopback, real failures. Every failure test counts messages in
 * and out: each one sent must come out (duplicates are allowed and counted,
 * losses are not).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { bridgeValues, startBridge } from "../_bridge.ts";
import { closeConnectionsNamed, openBroker, type Received, type TestBroker } from "../_broker.ts";
import { startProxy } from "../_proxy.ts";
import { startWsServer } from "../_ws_server.ts";
import {
  FROM_WS_DROPPED_TOTAL,
  MQ_CONNECTIONS_LOST_TOTAL,
  TO_WS_TOTAL,
  WS_CONNECTIONS_LOST_TOTAL,
  WS_READ_PAUSES_TOTAL,
} from "../../lib/metrics.ts";

function bodies(count: number, tag = "m"): string[] {
  return Array.from({ length: count }, (_, i) => `${tag}-${i}`);
}

/** Collects from `queue` until every one of `expected` has arrived at least once. */
async function collectAll(broker: TestBroker, queue: string, expected: string[], ms = 20_000) {
  const want = new Set(expected);
  const got = await broker.collect(queue, expected.length, ms, (all) => {
    for (const m of all.slice(-1)) want.delete(m.text);
    return want.size === 0;
  });
  return { got, duplicates: got.length - new Set(got.map((m: Received) => m.text)).size };
}

Deno.test("runBridge() carries to_ws messages to the WebSocket and its replies to from_ws [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  await using _bridge = await startBridge(
    bridgeValues({ toWs, fromWs, wsUrl: server.url }, { "aws_mq.mq_ttl_from_ws": "60000" }),
  );
  await broker.publish(toWs, ["hello", "wörld ✓"]);
  const got = await broker.collect(fromWs, 2);
  assert.deepEqual(server.received, ["hello", "wörld ✓"]); // order kept, text frames
  assert.deepEqual(got.map((m) => m.text), ["hello", "wörld ✓"]);
  for (const message of got) {
    assert.equal(message.properties.expiration, "60000");
    assert.equal(message.properties.deliveryMode, 2); // persistent
    assert.equal(message.properties.contentType, "text/plain");
    assert.match(String(message.properties.messageId), /^mq2wsbridge-[0-9a-f]{8}-\d+$/);
  }
});

Deno.test("runBridge() sends binary frames for binary content and bridges binary frames back as bytes [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  await using _bridge = await startBridge(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
  const invalidUtf8 = new Uint8Array([0xff, 0xfe, 0x00, 0x80]);
  const declaredBinary = new TextEncoder().encode("looks like text");
  await broker.publish(toWs, [invalidUtf8]);
  await broker.publish(toWs, [declaredBinary], { contentType: "application/octet-stream" });
  const got = await broker.collect(fromWs, 2);
  assert.ok(server.received.every((frame) => frame instanceof Uint8Array), "both sent as binary frames");
  assert.deepEqual(got.map((m) => new Uint8Array(m.body)), [invalidUtf8, declaredBinary]);
  assert.ok(got.every((m) => m.properties.contentType === "application/octet-stream"));
});

Deno.test("runBridge() in stub mode publishes each to_ws message to from_ws [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using bridge = await startBridge(bridgeValues({ toWs, fromWs }), { stub: true });
  const sent = bodies(500, "stub");
  await broker.publish(toWs, sent);
  const { got, duplicates } = await collectAll(broker, fromWs, sent);
  assert.equal(duplicates, 0);
  assert.deepEqual(got.map((m) => m.text), sent);
  await bridge.stop();
  assert.equal(bridge.metrics.counter(TO_WS_TOTAL), 500);
  assert.equal(await broker.ready(toWs), 0);
});

Deno.test("runBridge() reconnects when the WebSocket server closes mid-stream and loses nothing [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  // The contract: nothing is lost while the peer reads within ws_ack_delay_ms. This peer runs in the
  // test's own process and lags when the machine is loaded, so the test grants it a second.
  await using bridge = await startBridge(
    bridgeValues({ toWs, fromWs, wsUrl: server.url }, { "ws_api.ws_ack_delay_ms": "1000" }),
  );
  const sent = bodies(3000);
  await broker.publish(toWs, sent);
  await server.receivedCount(300);
  const reconnected = server.nextConnection();
  server.closeAll(1011, "server going away");
  await reconnected;
  const later = bodies(500, "later");
  await broker.publish(toWs, later);
  const { duplicates } = await collectAll(broker, fromWs, [...sent, ...later]);
  assert.ok(bridge.metrics.counter(WS_CONNECTIONS_LOST_TOTAL) >= 1);
  assert.ok(duplicates <= 2000, `duplicates bounded by the prefetch: ${duplicates}`);
  await bridge.stop();
  assert.equal(await broker.ready(toWs), 0);
});

Deno.test("runBridge() hands in-flight frames back when the WebSocket connection is cut [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  await using proxy = startProxy(Number(new URL(server.url).port));
  await using _bridge = await startBridge(
    bridgeValues({ toWs, fromWs, wsUrl: `ws://127.0.0.1:${proxy.port}` }, {
      "ws_api.ws_ack_delay_ms": "1000",
    }),
  );
  const sent = bodies(3000);
  await broker.publish(toWs, sent);
  await server.receivedCount(1000);
  const reconnected = server.nextConnection();
  proxy.cutAll();
  await reconnected;
  await collectAll(broker, fromWs, sent);
});

Deno.test("runBridge() stops consuming while the WebSocket is down and resumes after [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  await using proxy = startProxy(Number(new URL(server.url).port));
  await using bridge = await startBridge(
    bridgeValues({ toWs, fromWs, wsUrl: `ws://127.0.0.1:${proxy.port}` }),
  );
  proxy.refusing = true;
  proxy.cutAll();
  await bridge.sink.waitFor(/Cannot connect to the WebSocket API.*attempt=2/);
  const sent = bodies(200);
  await broker.publish(toWs, sent);
  await bridge.sink.waitFor(/Cannot connect to the WebSocket API.*attempt=3/);
  assert.equal(await broker.ready(toWs), 200, "nothing taken while the WebSocket is down");
  proxy.refusing = false;
  await collectAll(broker, fromWs, sent);
});

Deno.test("runBridge() reconnects when the broker drops its connection and loses nothing [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  await using bridge = await startBridge(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
  const sent = bodies(3000);
  await broker.publish(toWs, sent);
  await server.receivedCount(500);
  assert.equal(await closeConnectionsNamed(bridge.name), 2, "both connections: consume and publish");
  await bridge.sink.waitFor(/\[mq.consume\] Connected to broker.*attempt=1/);
  await bridge.sink.waitFor(/\[mq.publish\] Connected to broker.*attempt=1/);
  await collectAll(broker, fromWs, sent);
  assert.equal(bridge.metrics.counter(MQ_CONNECTIONS_LOST_TOTAL), 2);
  await bridge.stop();
  assert.equal(await broker.ready(toWs), 0);
});

Deno.test("runBridge() holds WebSocket messages while the broker is unreachable, pausing at mq_buffer_limit, and publishes every one after [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer({ echo: false });
  await using proxy = startProxy(5672);
  const mqUrl = `amqp://guest:guest@127.0.0.1:${proxy.port}`;
  const connected = server.nextConnection();
  await using bridge = await startBridge(
    bridgeValues({ toWs, fromWs, wsUrl: server.url, mqUrl }, {
      "aws_mq.mq_buffer_limit": "40",
      "aws_mq.mq_max_connect_attempts": "1", // applies to the first connection only
    }),
  );
  const socket = await connected;
  proxy.refusing = true;
  proxy.cutAll();
  await bridge.sink.waitFor(/\[mq.publish\] Lost the broker connection/);
  const sent = bodies(500, "from-api");
  for (const body of sent) socket.send(body);
  await bridge.sink.waitFor(
    /\[mq.publish\] Cannot connect to broker.*attempt="3 \(retrying until it is back\)"/,
  );
  assert.ok(bridge.running, "still running after more failed attempts than mq_max_connect_attempts");
  proxy.refusing = false;
  const got = await broker.collect(fromWs, 500);
  assert.deepEqual(got.map((m) => m.text), sent, "every message, in order");
  assert.equal(bridge.metrics.counter(FROM_WS_DROPPED_TOTAL), 0);
  assert.ok(bridge.metrics.counter(WS_READ_PAUSES_TOTAL) >= 1, "reading paused at the bound");
});

Deno.test("runBridge() takes a 20,000-frame burst from the API with a healthy broker and drops none [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer({ echo: false });
  const connected = server.nextConnection();
  await using bridge = await startBridge(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
  const socket = await connected;
  const sent = bodies(20_000, "burst");
  for (const body of sent) socket.send(body); // back to back, far past mq_buffer_limit (10000)
  const { got, duplicates } = await collectAll(broker, fromWs, sent, 60_000);
  assert.equal(new Set(got.map((m) => m.text)).size, 20_000);
  assert.equal(duplicates, 0);
  assert.equal(bridge.metrics.counter(FROM_WS_DROPPED_TOTAL), 0);
});

Deno.test("runBridge() instances on the same queues share the work without loss [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  const values = bridgeValues({ toWs, fromWs, wsUrl: server.url }, { "aws_mq.mq_prefetch": "50" });
  await using one = await startBridge(values);
  await using two = await startBridge(values);
  const sent = bodies(2000);
  await broker.publish(toWs, sent);
  const { duplicates } = await collectAll(broker, fromWs, sent);
  assert.equal(duplicates, 0);
  await one.stop();
  await two.stop();
  const [a, b] = [one.metrics.counter(TO_WS_TOTAL), two.metrics.counter(TO_WS_TOTAL)];
  assert.ok(a > 0 && b > 0, `both took a share: ${a} and ${b}`);
  assert.equal(a + b, 2000);
});

Deno.test("runBridge() publishes to from_ws with the configured TTL as the message expiration [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer({ echo: false });
  const connected = server.nextConnection();
  await using _bridge = await startBridge(
    bridgeValues({ toWs, fromWs, wsUrl: server.url }, { "aws_mq.mq_ttl_from_ws": "1234" }),
  );
  (await connected).send(new Uint8Array([1, 2, 3]));
  const [got] = await broker.collect(fromWs, 1);
  assert.equal(got!.properties.expiration, "1234");
  assert.deepEqual(got!.body, Buffer.from([1, 2, 3]));
});
