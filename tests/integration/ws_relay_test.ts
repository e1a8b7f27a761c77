/**
 * The relay (handlers/ws/relay.ts) with the real WebSocket client: ws:// and
 * wss:// (a private CA, TLS made by the relay) end to end, the private
 * socket directory and its clean-up, certificate checking, backpressure (a
 * paused link reads nothing more from the API, and loses nothing), and what
 * it does with bytes it holds when a connection is given up. The latency it
 * removes is measured by `deno task bench`, not asserted here.
 */
import assert from "node:assert/strict";
import type { WsSettings } from "../../config/config.ts";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { RelayDir } from "../../handlers/ws/relay.ts";
import { BUSY_BATCH } from "../../handlers/ws/write_pacing.ts";
import type { ProxyEnv } from "../../handlers/ws/http_proxy.ts";
import { startTinyproxy } from "../_tinyproxy.ts";
import { createLogger } from "../../lib/log.ts";
import { WsClient, type WsConnection, type WsHandlers } from "../../handlers/ws/client.ts";
import { WatchedSink, wsSettings } from "../_bridge.ts";
import { makeTestPki, startTlsForwarder } from "../_tls.ts";
import { startWsServer, withDeadline } from "../_ws_server.ts";
import { startProxy } from "../_proxy.ts";
import { concatBytes, OP, serverFrame, startRawWsServer } from "../_raw_ws_server.ts";
import { denoScript } from "../../tools/program.ts";
import { permissionsOf } from "../../scripts/programs.ts";

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
function echoClient(
  s: WsSettings,
  deps: { caPem?: string; relayDir?: string; proxy?: ProxyEnv } = {},
) {
  const sink = new WatchedSink();
  const replies: (string | Uint8Array)[] = [];
  const opened = Promise.withResolvers<WsConnection>();
  let waiter: { count: number; resolve: () => void } | null = null;
  const closed = Promise.withResolvers<void>();
  const handlers: WsHandlers = {
    onOpen: (conn) => opened.resolve(conn),
    onMessage: (data, text) => {
      replies.push(text ? new TextDecoder().decode(data) : data);
      if (waiter && replies.length >= waiter.count) waiter.resolve();
    },
    onWritten: () => {},
    onClose: () => closed.resolve(),
  };
  const repliesReach = (count: number, ms = 5_000) =>
    withDeadline(
      new Promise<void>((resolve) => {
        waiter = { count, resolve };
        if (replies.length >= count) resolve();
      }),
      ms,
      `${count} replies`,
    );
  const log = createLogger({ sink, info: true, debug: false });
  const ws = new WsClient(s, handlers, { log, metrics: new MetricsRegistry(), ...deps });
  opened.promise.catch(() => {});
  return Object.assign(ws, { sink, replies, repliesReach, opened: opened.promise, lost: closed.promise });
}

async function roundTrip(ws: ReturnType<typeof echoClient>, payloads: (string | Uint8Array)[]) {
  const conn = await withDeadline(ws.opened, 5_000, "the connection");
  const replied = ws.repliesReach(payloads.length);
  for (const payload of payloads) {
    const text = typeof payload === "string";
    conn.send(text ? new TextEncoder().encode(payload) : payload, text);
  }
  await replied;
  assert.deepEqual(ws.replies, payloads);
}

Deno.test("WsClient through the relay carries text and binary frames both ways [integration]", async () => {
  await using server = startWsServer();
  await using ws = echoClient(settings(server.url));
  ws.start().catch(() => {});
  await roundTrip(ws, ["small", "x".repeat(16_384), new Uint8Array(70_000).fill(7)]);
  assert.equal(server.requests[0]!.pathname, "/api");
  assert.equal(server.requests[0]!.searchParams.get("v"), "1");
  assert.ok(server.requests[0]!.searchParams.get("jwt"), "the token reaches the API");
});

Deno.test("The relay frames and reads the messages itself: masked frames out; in, fragments, pings answered by the client, messages with the handshake [integration]", async () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  await using server = startRawWsServer({ greeting: serverFrame(OP.text, encode("came with the 101")) });
  await using ws = echoClient(settings(server.url));
  ws.start().catch(() => {});
  const conn = await withDeadline(ws.opened, 5_000, "the connection");
  const api = await server.connection(0);
  const big = Uint8Array.from({ length: 70_000 }, (_, i) => i & 0xff);
  // In pieces, cut inside headers and payloads: a fragmented text message with a ping among its fragments.
  const stream = concatBytes(
    serverFrame(OP.text, encode("frag"), { fin: false }),
    serverFrame(OP.ping, encode("are you there")),
    serverFrame(0, encode("ment"), { fin: false }),
    serverFrame(0, encode("ed")),
    serverFrame(OP.binary, big),
  );
  for (const [from, to] of [[0, 3], [3, 9], [9, 40], [40, 1_000], [1_000, stream.length]]) {
    await api.sendRaw(stream.subarray(from, to));
  }
  await ws.repliesReach(3);
  assert.deepEqual(ws.replies, ["came with the 101", "fragmented", big]);
  const pong = await api.waitFrame(OP.pong);
  assert.equal(new TextDecoder().decode(pong.payload), "are you there", "Deno's client answered the ping");
  const out: [Uint8Array, boolean][] = [[encode("a"), true], [big, false], [encode("é".repeat(8_000)), true]];
  for (const [payload, text] of out) conn.send(payload, text);
  await api.waitFrame(OP.text, 2);
  const data = api.frames.filter((f) => f.opcode === OP.text || f.opcode === OP.binary);
  assert.deepEqual(data.map((f) => [f.payload, f.opcode === OP.text]), out);
  assert.ok(api.frames.every((f) => f.masked), "every client frame masked");
  assert.equal(conn.writtenBytes, conn.sentBytes);
});

Deno.test("Messages sent in the same turn as the close reach the API before the close frame [integration]", async () => {
  await using server = startRawWsServer();
  const ws = echoClient(settings(server.url));
  ws.start().catch(() => {});
  const conn = await withDeadline(ws.opened, 5_000, "the connection");
  const api = await server.connection(0);
  const count = 50;
  for (let i = 0; i < count; i++) conn.send(new TextEncoder().encode(`m${i}`), true);
  await ws.close(); // the client writes its close frame now; the relay's frames are still gathered
  await api.waitEnded();
  const order = api.frames.map((f) => f.opcode === OP.close ? "close" : new TextDecoder().decode(f.payload));
  assert.deepEqual(order, [...Array.from({ length: count }, (_, i) => `m${i}`), "close"]);
});

Deno.test("Messages a paced write still holds reach the API before the close frame [integration]", async () => {
  await using server = startRawWsServer();
  const ws = echoClient(settings(server.url, { coalesceMs: 600_000 })); // held until a frame of the client's
  ws.start().catch(() => {});
  const conn = await withDeadline(ws.opened, 5_000, "the connection");
  const api = await server.connection(0);
  const encode = (text: string) => new TextEncoder().encode(text);
  // Two batches, each in a write of its own: the next write is paced.
  for (let i = 0; i < BUSY_BATCH; i++) conn.send(encode(`a${i}`), true);
  await api.waitFrame(OP.text, BUSY_BATCH);
  for (let i = BUSY_BATCH; i < 2 * BUSY_BATCH; i++) conn.send(encode(`a${i}`), true);
  await api.waitFrame(OP.text, 2 * BUSY_BATCH);
  for (let i = 0; i < 5; i++) conn.send(encode(`b${i}`), true);
  await new Promise((resolve) => setTimeout(resolve, 0)); // a turn later they are still held: no event to wait for
  assert.ok(conn.writtenBytes < conn.sentBytes, "the second batch waits for its write");
  await ws.close(); // the client's close frame makes the relay write what it holds first
  await api.waitEnded();
  const order = api.frames.map((f) => f.opcode === OP.close ? "close" : new TextDecoder().decode(f.payload));
  const names = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
  assert.deepEqual(order, [...names("a", 2 * BUSY_BATCH), ...names("b", 5), "close"]);
});

Deno.test("A connection cut while a paced write waits counts none of it, and leaves no timer behind [integration]", async () => {
  await using server = startRawWsServer();
  const ws = echoClient(settings(server.url, { coalesceMs: 600_000 }));
  ws.start().catch(() => {});
  const conn = await withDeadline(ws.opened, 5_000, "the connection");
  const api = await server.connection(0);
  const encode = (text: string) => new TextEncoder().encode(text);
  for (let batch = 1; batch <= 2; batch++) { // two batches, each in a write of its own: the next is paced
    for (let i = (batch - 1) * BUSY_BATCH; i < batch * BUSY_BATCH; i++) conn.send(encode(`a${i}`), true);
    await api.waitFrame(OP.text, batch * BUSY_BATCH);
  }
  const written = conn.writtenBytes;
  for (let i = 0; i < 5; i++) conn.send(encode(`b${i}`), true); // held by the pacer
  api.close(); // the API drops the TCP connection
  await withDeadline(ws.lost, 5_000, "the client hears the connection end");
  await ws.close();
  assert.equal(conn.writtenBytes, written, "nothing of the held batch counted");
  const texts = api.framesOf(OP.text).map((f) => new TextDecoder().decode(f.payload));
  assert.deepEqual(
    texts,
    Array.from({ length: 2 * BUSY_BATCH }, (_, i) => `a${i}`),
    "only the written batches",
  );
  // The test's end checks for timers left running: the 600 s one must be gone.
});

Deno.test("Batches sent turn after turn, their writes paced, all arrive in order, each counted written [integration]", async () => {
  await using server = startWsServer();
  await using ws = echoClient(settings(server.url));
  ws.start().catch(() => {});
  const conn = await withDeadline(ws.opened, 5_000, "the connection");
  const turns = 40;
  const perTurn = 2 * BUSY_BATCH;
  const replied = ws.repliesReach(turns * perTurn, 10_000);
  for (let t = 0; t < turns; t++) {
    for (let i = 0; i < perTurn; i++) conn.send(new TextEncoder().encode(`${t}.${i}`), true);
    await new Promise((resolve) => setTimeout(resolve, 0)); // the next turn, within the pacing interval or not
  }
  await replied;
  const sent = Array.from({ length: turns * perTurn }, (_, n) => `${Math.floor(n / perTurn)}.${n % perTurn}`);
  assert.deepEqual(ws.replies, sent);
  assert.equal(conn.writtenBytes, conn.sentBytes);
});

Deno.test("A frame the relay does not carry goes to Deno's client, which fails the connection; what came before is delivered [integration]", async () => {
  await using server = startRawWsServer();
  await using ws = echoClient(settings(server.url));
  ws.start().catch(() => {});
  await withDeadline(ws.opened, 5_000, "the connection");
  const api = await server.connection(0);
  await api.sendRaw(concatBytes(
    serverFrame(OP.text, new TextEncoder().encode("before")),
    serverFrame(OP.text, new TextEncoder().encode("reserved bit set"), { rsv: 4 }),
    serverFrame(OP.text, new TextEncoder().encode("after")),
  ));
  await withDeadline(ws.lost, 5_000, "the connection to fail");
  assert.deepEqual(ws.replies, ["before"]);
  await ws.sink.waitFor(/WebSocket connection lost/);
});

Deno.test("WsClient reaches a wss:// API signed by ws_ca_file, TLS made by the relay [integration]", async () => {
  await using pki = await makeTestPki();
  await using server = startWsServer();
  await using tls = startTlsForwarder(pki, Number(new URL(server.url).port));
  await using ws = echoClient(settings(`wss://localhost:${tls.port}`), { caPem: pki.caPem });
  ws.start().catch(() => {});
  await roundTrip(ws, ["over tls", "y".repeat(20_000)]);
});

Deno.test("WsClient with ws_no_delay = false still goes through the relay, checking ws_ca_file [integration]", async () => {
  await using pki = await makeTestPki();
  await using server = startWsServer();
  await using tls = startTlsForwarder(pki, Number(new URL(server.url).port));
  await using ws = echoClient(settings(`wss://localhost:${tls.port}`, { noDelay: false }), {
    caPem: pki.caPem,
  });
  ws.start().catch(() => {});
  await roundTrip(ws, ["nagle on"]);
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

Deno.test("WsClient fails to start, naming the directory, when the relay's socket cannot be made [integration]", async () => {
  await using server = startWsServer();
  await using ws = echoClient(settings(server.url), { relayDir: "/nonexistent/dir" });
  const failed = await ws.start().then(() => null, (err: Error) => err);
  assert.match(
    String(failed?.message),
    /Cannot create the WebSocket relay's private directory in \/nonexistent\/dir/,
  );
  assert.equal(server.requests.length, 0);
});

Deno.test("RelayDir keeps its sockets in a directory only its owner can enter, removed at close", async () => {
  const relay = await RelayDir.open("/tmp");
  assert.match(relay.path, new RegExp(`^/tmp/mq2wsbridge-ws-${Deno.pid}-`));
  assert.equal((await Deno.stat(relay.path)).mode! & 0o777, 0o700);
  const link = relay.link(
    "ws://127.0.0.1:9",
    { noDelay: true, proxy: {}, pingIntervalMs: 0, coalesceMs: 2 },
    {
      onWritten() {},
      onDead() {},
    },
  );
  const route = link.route("wss://api.example.com:8443/ws?jwt=abc");
  assert.equal(route.url, "ws://api.example.com:8443/ws?jwt=abc", "TLS is the relay's job");
  await relay.close();
  await relay.close(); // safe twice
  await assert.rejects(() => Deno.stat(relay.path), Deno.errors.NotFound);
});

Deno.test("RelayDir.open() removes the directories whose lock nobody holds, and keeps live and young ones", async () => {
  const parent = await Deno.makeTempDir({ prefix: "mq2wsbridge-test-" });
  try {
    const stale = `${parent}/mq2wsbridge-ws-999991-abc123`; // its owner died: the lock file is free
    const live = `${parent}/mq2wsbridge-ws-999992-def456`; // its owner (this test) holds the lock
    const young = `${parent}/mq2wsbridge-ws-999993-ghi789`; // no lock file yet: being made right now
    const old = `${parent}/mq2wsbridge-ws-999994-jkl012`; // no lock file, and long past any start-up
    const other = `${parent}/not-a-relay`;
    for (const dir of [stale, live, young, old, other]) await Deno.mkdir(dir);
    await Deno.writeTextFile(`${stale}/owner.lock`, "");
    await Deno.writeTextFile(`${stale}/1.sock`, "");
    await Deno.writeTextFile(`${live}/owner.lock`, "");
    using held = await Deno.open(`${live}/owner.lock`, { read: true });
    await held.lock(true);
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    await Deno.utime(old, twoMinutesAgo, twoMinutesAgo);
    const relay = await RelayDir.open(parent);
    await relay.close();
    await assert.rejects(() => Deno.stat(stale), Deno.errors.NotFound);
    await assert.rejects(() => Deno.stat(old), Deno.errors.NotFound);
    for (const kept of [live, young, other]) assert.ok((await Deno.stat(kept)).isDirectory, kept);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("a bridge starting beside running ones keeps their relay directories, and removes a killed one's (compiled permissions) [integration]", async () => {
  const parent = await Deno.makeTempDir({ dir: "/tmp", prefix: "mq2wsbridge-test-" });
  const holder = (label: string) =>
    denoScript("tests/fixtures/relay_dir_holder.ts", permissionsOf("mq2wsbridge"), [parent, label]);
  try {
    await using first = holder("first");
    const firstDir = await first.waitForLine(/^\/tmp\//);
    await using second = holder("second");
    const secondDir = await second.waitForLine(/^\/tmp\//);
    assert.ok((await Deno.stat(firstDir)).isDirectory, "a running relay's directory survives a second start");
    first.kill("SIGKILL"); // no clean-up: its directory stays behind, as after an OOM kill
    await first.exit();
    assert.ok((await Deno.stat(firstDir)).isDirectory, "left behind by the kill");
    await using third = holder("third");
    await third.waitForLine(/^\/tmp\//);
    await assert.rejects(() => Deno.stat(firstDir), Deno.errors.NotFound, "the killed one's is removed");
    assert.ok((await Deno.stat(secondDir)).isDirectory, "the running one's is kept");
    second.kill("SIGTERM");
    assert.equal((await second.exit()).code, 0);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("WsClient.setReadingPaused() stops reading from the API, and every message arrives after the resume [integration]", async () => {
  await using server = startWsServer({ echo: false });
  await using ws = echoClient(settings(server.url));
  ws.setReadingPaused(true); // before connecting: the link starts paused
  ws.start().catch(() => {});
  await withDeadline(ws.opened, 5_000, "the connection");
  const socket = [...server.sockets][0]!;
  const count = 300;
  const body = (i: number) => `${i} `.padEnd(65_536, ".");
  for (let i = 0; i < count; i++) socket.send(body(i));
  // 19 MiB cannot all fit in the socket buffers: the server holds the rest, unsent, while we do not read.
  await withDeadline(
    (async () => {
      while (socket.bufferedAmount === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    })(),
    5_000,
    "the server's sends to back up",
  );
  assert.ok(ws.replies.length < count, `${ws.replies.length} of ${count} arrived while paused`);
  ws.setReadingPaused(false);
  await ws.repliesReach(count, 10_000);
  assert.deepEqual(ws.replies.map((r) => String(r).split(" ")[0]), [...Array(count).keys()].map(String));
});

Deno.test("A connection given up as dead keeps what it wrote: an API that reads again gets all of it [integration]", async () => {
  await using server = startWsServer({ echo: false });
  await using proxy = startProxy(Number(new URL(server.url).port));
  await using ws = echoClient(
    settings(`ws://127.0.0.1:${proxy.port}`, { pingIntervalSecs: 0.3, maxConnectAttempts: 10 }),
  );
  ws.start().catch(() => {});
  const conn = await withDeadline(ws.opened, 5_000, "the connection");
  proxy.pause(); // the API stops reading (frozen), and so stops answering pings
  const frames = 40;
  for (let i = 0; i < frames; i++) conn.send(new TextEncoder().encode(`${i} `.padEnd(16_384, ".")), true);
  await withDeadline(ws.lost, 5_000, "the connection to be given up");
  const written = conn.writtenBytes / 16_384;
  assert.ok(written >= 1, `${written} frames written before it was given up`);
  await ws.sink.waitFor(/WebSocket connection lost.*not responding/);
  proxy.resume(); // the API reads again: everything written reaches it, nothing in the relay was thrown away
  await server.receivedCount(written, 10_000);
  assert.deepEqual(
    server.received.slice(0, written).map((r) => String(r).split(" ")[0]),
    [...Array(written).keys()].map(String),
  );
});

Deno.test("A batch written in parts counts each message written as soon as its whole frame is, never before [integration]", async () => {
  await using server = startWsServer({ echo: false });
  await using proxy = startProxy(Number(new URL(server.url).port));
  const opened = Promise.withResolvers<WsConnection>();
  const firstNotice = Promise.withResolvers<number>();
  const handlers: WsHandlers = {
    onOpen: (conn) => opened.resolve(conn),
    onMessage: () => {},
    onWritten: (conn) => firstNotice.resolve(conn.writtenBytes),
    onClose: () => {},
  };
  const log = createLogger({ sink: new WatchedSink(), info: true, debug: false });
  await using ws = new WsClient(settings(`ws://127.0.0.1:${proxy.port}`), handlers, {
    log,
    metrics: new MetricsRegistry(),
  });
  ws.start().catch(() => {});
  const conn = await withDeadline(opened.promise, 5_000, "the connection");
  proxy.pause(); // the API's side stops reading: the batch cannot be written in one go
  const size = 16_384;
  const count = 400; // 6.4 MiB in one turn: one batch, more than the socket buffers take
  for (let i = 0; i < count; i++) conn.send(new TextEncoder().encode(`${i} `.padEnd(size, ".")), true);
  const first = await withDeadline(firstNotice.promise, 5_000, "a written notice while the batch is blocked");
  assert.ok(first > 0 && first < count * size, `${first} bytes counted of ${count * size}`);
  assert.equal(first % size, 0, "whole messages only");
  proxy.resume();
  await server.receivedCount(count, 10_000);
  assert.deepEqual(server.received.map((r) => String(r).split(" ")[0]), [...Array(count).keys()].map(String));
  assert.equal(conn.writtenBytes, count * size);
});

Deno.test("WsClient goes through an HTTP proxy with CONNECT (a real tinyproxy), TLS inside the tunnel [integration]", async () => {
  await using tiny = await startTinyproxy();
  await using pki = await makeTestPki();
  await using server = startWsServer();
  await using tls = startTlsForwarder(pki, Number(new URL(server.url).port));
  await using plain = echoClient(settings(server.url), { proxy: { httpProxy: tiny.url } });
  plain.start().catch(() => {});
  await roundTrip(plain, ["through the proxy"]);
  await using secure = echoClient(settings(`wss://localhost:${tls.port}`), {
    caPem: pki.caPem,
    proxy: { httpsProxy: tiny.url, httpProxy: "http://127.0.0.1:9" },
  });
  secure.start().catch(() => {});
  await roundTrip(secure, ["tls through the proxy"]);
  const seen = await tiny.requests();
  assert.ok(seen.includes(`CONNECT 127.0.0.1:${new URL(server.url).port}`), seen.join("\n"));
  assert.ok(seen.includes(`CONNECT localhost:${tls.port}`), "wss:// takes HTTPS_PROXY");
  assert.ok(!seen.some((r) => r.includes("jwt")), "the proxy never sees the URL or its token");
});

Deno.test("WsClient connects directly to a host in NO_PROXY, and names the proxy when it refuses [integration]", async () => {
  await using tiny = await startTinyproxy();
  await using server = startWsServer();
  await using direct = echoClient(settings(server.url), {
    proxy: { httpProxy: tiny.url, noProxy: "localhost,127.0.0.1" },
  });
  direct.start().catch(() => {});
  await roundTrip(direct, ["no proxy"]);
  assert.deepEqual(await tiny.requests(), []);
  // A proxy that answers CONNECT with an error (tinyproxy cannot reach the closed port).
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  await using refused = echoClient(settings(`ws://127.0.0.1:${port}`), { proxy: { httpProxy: tiny.url } });
  const failed = await refused.start().then(() => null, (err: Error) => err);
  assert.match(
    String(failed?.message),
    new RegExp(`through proxy ${tiny.url.replaceAll(".", "\\.")}: proxy .* refused CONNECT`),
  );
});
