/**
 * Bad input from either side: each case gets a clear log line and a defined
 * outcome, and never costs a message in flight. The API's side is a
 * hand-written WebSocket server that can send what a real one should not.
 */
import assert from "node:assert/strict";
import { bridgeValues, type InProcessBridge, startBridge } from "../_bridge.ts";
import { deadLetterPolicy, openBroker } from "../_broker.ts";
import { OP, type RawConnection, startRawWsServer } from "../_raw_ws_server.ts";
import { startWsServer } from "../_ws_server.ts";
import { TO_WS_REJECTED_TOTAL } from "../../lib/metrics.ts";

const decoder = new TextDecoder();

/** Resolves once `conn` has received a text frame with `body`. */
async function receivedText(conn: RawConnection, body: string): Promise<void> {
  for (let n = 1;; n++) if (decoder.decode((await conn.waitFrame(OP.text, n)).payload) === body) return;
}

function texts(...conns: RawConnection[]): Set<string> {
  return new Set(conns.flatMap((c) => c.framesOf(OP.text).map((f) => decoder.decode(f.payload))));
}

const batch = (tag: string) => Array.from({ length: 20 }, (_, i) => `${tag}-${i}`);

/**
 * Sends 20 messages through the first connection, has the API side misbehave,
 * then checks: the log says what happened, the bridge reconnects, 20 more go
 * through, and every message reached the API (some twice, none never).
 */
async function survives(
  misbehave: (conn: RawConnection) => Promise<void>,
  logged: RegExp,
): Promise<InProcessBridge> {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startRawWsServer();
  const bridge = await startBridge(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
  try {
    const first = await server.connection(0);
    await broker.publish(toWs, batch("before"));
    await receivedText(first, "before-19");
    await misbehave(first);
    await bridge.sink.waitFor(logged);
    const second = await server.connection(1);
    await broker.publish(toWs, batch("after"));
    await receivedText(second, "after-19");
    const seen = texts(first, second);
    assert.deepEqual([...batch("before"), ...batch("after")].filter((b) => !seen.has(b)), []);
    assert.ok(bridge.running, "still running");
    return bridge;
  } finally {
    await bridge.stop();
  }
}

Deno.test("runBridge() bridges an invalid UTF-8 text frame from the API as bytes, with a warning, on the same connection [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startRawWsServer();
  await using bridge = await startBridge(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
  const conn = await server.connection(0);
  conn.sendRaw(new Uint8Array([0x81, 3, 0x68, 0xff, 0xfe])); // text opcode, "h" and two bytes no UTF-8 has
  conn.sendRaw(new Uint8Array([0x81, 2, 0x6f, 0x6b])); // "ok"
  const [bad, good] = await broker.collect(fromWs, 2);
  assert.deepEqual([...bad!.body], [0x68, 0xff, 0xfe]);
  assert.equal(bad!.properties.contentType, "application/octet-stream");
  assert.equal(good!.text, "ok");
  assert.equal(good!.properties.contentType, "text/plain");
  await bridge.sink.waitFor(
    /WARN .*text frames that are not valid UTF-8; published as application\/octet-stream count=1/,
  );
  assert.equal(server.connections.length, 1, "the connection was kept");
});

Deno.test("runBridge() logs a frame over the runtime's 64 MiB limit, reconnects and loses nothing [integration]", async () => {
  // Only the header: it announces 100 MiB, which Deno refuses before reading any of it.
  const header = new Uint8Array([0x82, 127, 0, 0, 0, 0, 0x06, 0x40, 0, 0]);
  await survives(
    (conn) => conn.sendRaw(header),
    /WARN .*WebSocket connection lost .*error="Frame too large"/,
  );
});

Deno.test("runBridge() logs garbage instead of frames, reconnects and loses nothing [integration]", async () => {
  await survives(
    (conn) => conn.sendRaw(new TextEncoder().encode("HTTP/1.1 500 not a frame\r\n\r\n")),
    /WARN .*WebSocket connection lost .*error=/,
  );
});

for (
  const [what, code, reason] of [["an application close code", 4000, "custom"], [
    "a protocol error",
    1002,
    "",
  ]] as const
) {
  Deno.test(`runBridge() logs ${what} (${code}) with its reason, reconnects and loses nothing [integration]`, async () => {
    const payload = new Uint8Array([code >> 8, code & 255, ...new TextEncoder().encode(reason)]);
    await survives(
      (conn) => conn.send(OP.close, payload),
      new RegExp(`WARN .*WebSocket connection lost conn=1 code=${code}${reason ? ` reason=${reason}` : ""}`),
    );
  });
}

Deno.test("runBridge() logs an abrupt end of the API's connection, reconnects and loses nothing [integration]", async () => {
  await survives((conn) => Promise.resolve(conn.close()), /WARN .*WebSocket connection lost conn=1 code=\d+/);
});

Deno.test("runBridge() bridges empty messages both ways [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer({ echo: true });
  const connected = server.nextConnection();
  await using _bridge = await startBridge(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
  (await connected).send(""); // from the API
  await broker.publish(toWs, [""]); // to the API, echoed back
  const got = await broker.collect(fromWs, 2);
  assert.deepEqual(got.map((m) => [m.body.length, m.properties.contentType]), [[0, "text/plain"], [
    0,
    "text/plain",
  ]]);
  assert.deepEqual(server.received, [""]);
});

Deno.test("runBridge() dead-letters a message over ws_max_message_bytes instead of sending it [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  const deadLetters = await broker.queue("dead_letters");
  await using _policy = await deadLetterPolicy(toWs, deadLetters);
  await using server = startWsServer();
  await using bridge = await startBridge(
    bridgeValues({ toWs, fromWs, wsUrl: server.url }, { "ws_api.ws_max_message_bytes": "1000" }),
  );
  await broker.publish(toWs, ["x".repeat(1001), "fits"]);
  const [dead] = await broker.collect(deadLetters, 1);
  assert.equal(dead!.body.length, 1001);
  assert.deepEqual((await broker.collect(fromWs, 1)).map((m) => m.text), ["fits"]);
  assert.deepEqual(server.received, ["fits"]);
  assert.equal(bridge.metrics.counter(TO_WS_REJECTED_TOTAL), 1);
  await bridge.sink.waitFor(
    /ERROR .*Rejected a message larger than ws_max_message_bytes.*bytes=1001 limit=1000/,
  );
});
