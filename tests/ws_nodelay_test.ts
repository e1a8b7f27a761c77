/**
 * The no-delay relay (lib/ws_nodelay.ts) with the real WebSocket client:
 * ws:// and wss:// (a private CA, TLS made by the relay) end to end, the
 * private socket directory, certificate checking, and the direct
 * connection used when the relay cannot be set up. The latency it removes is
 * measured by `deno task bench`, not asserted here.
 */
import assert from "node:assert/strict";
import type { WsSettings } from "../lib/config.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { NoDelayRelay } from "../lib/ws_nodelay.ts";
import { createLogger } from "../handlers/logging.ts";
import { WsClient, type WsConnection, type WsHandlers } from "../handlers/ws.ts";
import { WatchedSink, wsSettings } from "./_bridge.ts";
import { makeTestPki, startTlsForwarder } from "./_tls.ts";
import { startWsServer, withDeadline } from "./_ws_server.ts";

/** The shared test settings, with a query in the URI (kept through the relay) and one attempt. */
function settings(apiHost: string, overrides: Partial<WsSettings> = {}): WsSettings {
  return wsSettings(apiHost, {
    apiUri: "/api?v=1",
    maxConnectAttempts: 1,
    connectTimeoutSecs: 5,
    ...overrides,
  });
}

/** A client that echoes back what it receives into `replies`; dispose closes it. */
function echoClient(s: WsSettings, deps: { caPem?: string; relayDir?: string } = {}) {
  const sink = new WatchedSink();
  const replies: (string | Uint8Array)[] = [];
  const opened = Promise.withResolvers<WsConnection>();
  let waiter: { count: number; resolve: () => void } | null = null;
  const handlers: WsHandlers = {
    onOpen: (conn) => opened.resolve(conn),
    onMessage: (data) => {
      replies.push(data);
      if (waiter && replies.length >= waiter.count) waiter.resolve();
    },
    onClose: () => {},
  };
  const repliesReach = (count: number) =>
    withDeadline(new Promise<void>((resolve) => waiter = { count, resolve }), 5_000, `${count} replies`);
  const log = createLogger({ sink, info: true, debug: false });
  const ws = new WsClient(s, handlers, { log, metrics: new MetricsRegistry(), ...deps });
  opened.promise.catch(() => {});
  return Object.assign(ws, { sink, replies, repliesReach, opened: opened.promise });
}

async function roundTrip(ws: ReturnType<typeof echoClient>, payloads: (string | Uint8Array)[]) {
  const conn = await withDeadline(ws.opened, 5_000, "the connection");
  const replied = ws.repliesReach(payloads.length);
  for (const payload of payloads) {
    conn.send(
      payload,
      typeof payload === "string" ? new TextEncoder().encode(payload).length : payload.length,
    );
  }
  await replied;
  assert.deepEqual(ws.replies, payloads);
}

Deno.test("WsClient through the no-delay relay carries text and binary frames both ways [integration]", async () => {
  await using server = startWsServer();
  await using ws = echoClient(settings(server.url));
  ws.start().catch(() => {});
  await roundTrip(ws, ["small", "x".repeat(16_384), new Uint8Array(70_000).fill(7)]);
  assert.equal(server.requests[0]!.pathname, "/api");
  assert.equal(server.requests[0]!.searchParams.get("v"), "1");
  assert.ok(server.requests[0]!.searchParams.get("jwt"), "the token reaches the API");
});

Deno.test("WsClient reaches a wss:// API signed by ws_ca_file, TLS made by the relay [integration]", async () => {
  await using pki = await makeTestPki();
  await using server = startWsServer();
  await using tls = startTlsForwarder(pki, Number(new URL(server.url).port));
  await using ws = echoClient(settings(`wss://localhost:${tls.port}`), { caPem: pki.caPem });
  ws.start().catch(() => {});
  await roundTrip(ws, ["over tls", "y".repeat(20_000)]);
});

Deno.test("WsClient with ws_no_delay = false connects directly, still checking ws_ca_file [integration]", async () => {
  await using pki = await makeTestPki();
  await using server = startWsServer();
  await using tls = startTlsForwarder(pki, Number(new URL(server.url).port));
  await using ws = echoClient(settings(`wss://localhost:${tls.port}`, { noDelay: false }), {
    caPem: pki.caPem,
  });
  ws.start().catch(() => {});
  await roundTrip(ws, ["direct"]);
});

Deno.test("WsClient through the relay refuses a certificate it cannot verify, saying why [integration]", async () => {
  await using pki = await makeTestPki();
  await using server = startWsServer();
  await using tls = startTlsForwarder(pki, Number(new URL(server.url).port));
  await using ws = echoClient(settings(`wss://localhost:${tls.port}`));
  const failed = await ws.start().then(() => null, (err: Error) => err);
  assert.match(String(failed?.message), /cannot reach wss:\/\/localhost:\d+: .*(UnknownIssuer|certificate)/);
  assert.equal(server.requests.length, 0, "nothing reached the API");
});

Deno.test("WsClient connects directly, with a warning, when the relay cannot be set up [integration]", async () => {
  await using server = startWsServer();
  await using ws = echoClient(settings(server.url), { relayDir: "/nonexistent/dir" });
  ws.start().catch(() => {});
  await roundTrip(ws, ["still works"]);
  assert.match(ws.sink.text, /WARN .*Cannot set up the no-delay relay; connecting directly/);
});

Deno.test("NoDelayRelay keeps its socket in a directory only its owner can enter, removed at close", async () => {
  const relay = await NoDelayRelay.open("ws://127.0.0.1:9");
  const route = relay.route("wss://api.example.com:8443/ws?jwt=abc");
  assert.equal(route.url, "ws://api.example.com:8443/ws?jwt=abc", "TLS is the relay's job");
  const dir = relay.socketPath.replace(/\/ws\.sock$/, "");
  assert.match(dir, /^\/tmp\/mq2wsbridge-ws-/);
  assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
  await relay.close();
  await relay.close(); // safe twice
  await assert.rejects(() => Deno.stat(dir), Deno.errors.NotFound);
});
