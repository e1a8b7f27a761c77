/**
 * The WebSocket handler against real servers on loopback: the echo server of
 * _ws_server.ts (Deno.serve), a hand-written one that shows ping frames
 * (_raw_ws_server.ts), a listener that never answers, and a closed port.
 */
import assert from "node:assert/strict";
import type { WsSettings } from "../../config/config.ts";
import {
  MetricsRegistry,
  WS_CONNECTION_ATTEMPTS_TOTAL,
  WS_CONNECTIONS_LOST_TOTAL,
} from "../../lib/metrics.ts";
import { Redactor } from "../../lib/secret.ts";
import { createLogger } from "../../lib/log.ts";
import {
  WsClient,
  type WsCloseInfo,
  type WsConnection,
  WsGaveUpError,
  type WsHandlers,
} from "../../handlers/ws/client.ts";
import { TEST_CLIENT_SECRET, WatchedSink, wsSettings } from "../_bridge.ts";
import { UUID_V4, verifyToken } from "../_jwt.ts";
import { acceptKey, OP, startRawWsServer } from "../_raw_ws_server.ts";
import { startWsServer, withDeadline } from "../_ws_server.ts";

type Event =
  | { kind: "open"; conn: WsConnection }
  | { kind: "message"; data: string | Uint8Array; conn: WsConnection }
  | { kind: "written"; conn: WsConnection; bytes: number }
  | { kind: "close"; conn: WsConnection; info: WsCloseInfo };

/** WsHandlers that record every call and let a test await the next one of a kind. */
class Recorder implements WsHandlers {
  readonly events: Event[] = [];
  #waiters: { kind: Event["kind"]; index: number; resolve: (e: Event) => void }[] = [];

  onOpen(conn: WsConnection): void {
    this.#push({ kind: "open", conn });
  }
  /** Text messages are recorded as strings, binary ones as bytes. */
  onMessage(data: Uint8Array, text: boolean, conn: WsConnection): void {
    this.#push({ kind: "message", data: text ? new TextDecoder().decode(data) : data, conn });
  }
  onWritten(conn: WsConnection): void {
    this.#push({ kind: "written", conn, bytes: conn.writtenBytes });
  }
  onClose(conn: WsConnection, info: WsCloseInfo): void {
    this.#push({ kind: "close", conn, info });
  }

  of<K extends Event["kind"]>(kind: K): Extract<Event, { kind: K }>[] {
    return this.events.filter((e) => e.kind === kind) as Extract<Event, { kind: K }>[];
  }

  /** Resolves with the `n`-th (1-based) event of `kind`, past or future. */
  nth<K extends Event["kind"]>(kind: K, n: number, ms = 5_000): Promise<Extract<Event, { kind: K }>> {
    const seen = this.of(kind)[n - 1];
    if (seen) return Promise.resolve(seen);
    return withDeadline(
      new Promise((resolve) =>
        this.#waiters.push({ kind, index: n, resolve: resolve as (e: Event) => void })
      ),
      ms,
      `${kind} event #${n}`,
    );
  }

  #push(event: Event): void {
    this.events.push(event);
    const count = this.of(event.kind).length;
    this.#waiters = this.#waiters.filter((w) =>
      !(w.kind === event.kind && w.index === count && (w.resolve(event), true))
    );
  }
}

/** A client with recorded handlers, log lines and metrics; dispose closes it. */
function client(settings: WsSettings) {
  const sink = new WatchedSink();
  const metrics = new MetricsRegistry();
  const recorder = new Recorder();
  const log = createLogger({ sink, info: true, debug: true, redactor: new Redactor() }).child("ws");
  const ws = new WsClient(settings, recorder, { log, metrics });
  return Object.assign(ws, { sink, metrics, recorder });
}

/** A port nothing listens on (the listener is closed before it is used). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

async function gaveUp(ws: WsClient, ms = 10_000): Promise<WsGaveUpError> {
  const error = await withDeadline(ws.closed.then(() => null, (err: unknown) => err), ms, "closed to settle");
  assert.ok(error instanceof WsGaveUpError, `closed rejects with WsGaveUpError, got ${error}`);
  return error;
}

Deno.test("WsClient connects to api_host + api_uri with a fresh verifiable token per attempt [integration]", async () => {
  await using server = startWsServer();
  await using ws = client(wsSettings(server.url, { maxConnectAttempts: 5 }));
  await ws.start();
  const reconnected = server.nextConnection();
  server.closeAll();
  await reconnected;
  await ws.recorder.nth("open", 2);
  assert.equal(server.requests.length, 2);
  const nonces = new Set<unknown>();
  for (const [i, url] of server.requests.entries()) {
    assert.equal(url.pathname, "/path/to/ws");
    assert.deepEqual([...url.searchParams.keys()], ["jwt"]);
    const { claims } = await verifyToken(server.tokens[i]!, TEST_CLIENT_SECRET);
    assert.equal(claims.path, "/path/to/ws");
    assert.equal(claims.host, server.url);
    assert.equal(claims.client_id, "test-client");
    const now = Date.now() / 1000;
    assert.ok(Math.abs(Number(claims.exp) - (now + 300)) <= 5, `exp near now + 300: ${claims.exp}`);
    assert.match(String(claims.nonce), UUID_V4);
    nonces.add(claims.nonce);
  }
  assert.equal(nonces.size, 2, "each attempt signs a new token with a new nonce");
  assert.notEqual(server.tokens[0], server.tokens[1]);
  for (const token of server.tokens) assert.ok(!ws.sink.text.includes(token), "the token is never logged");
});

Deno.test("WsClient keeps an existing query in api_uri and adds jwt with & [integration]", async () => {
  await using server = startWsServer();
  await using ws = client(wsSettings(server.url, { apiUri: "/ws?tenant=a%20b" }));
  await ws.start();
  const url = server.requests[0]!;
  assert.equal(url.pathname, "/ws");
  assert.equal(url.searchParams.get("tenant"), "a b");
  const { claims } = await verifyToken(url.searchParams.get("jwt")!, TEST_CLIENT_SECRET);
  assert.equal(claims.path, "/ws?tenant=a%20b");
});

Deno.test("WsClient gives up after ws_max_connect_attempts refused handshakes (HTTP 403) [integration]", async () => {
  await using server = startWsServer();
  server.refuseWith = 403;
  await using ws = client(wsSettings(server.url, { maxConnectAttempts: 3, attemptWindowSecs: 1 }));
  const started = ws.start();
  const error = await gaveUp(ws);
  await assert.rejects(started, WsGaveUpError);
  assert.equal(server.requests.length, 3, "exactly ws_max_connect_attempts attempts");
  assert.equal(ws.metrics.counter(WS_CONNECTION_ATTEMPTS_TOTAL), 3);
  assert.match(error.message, /ws_max_connect_attempts=3/);
  assert.match(error.message, /ws_attempt_window_secs=1/);
  assert.match(error.message, /failed 3 time/);
  assert.match(error.message, /last: .*403/, "names the last failure");
  await ws.sink.waitFor(/ERROR.*Giving up/);
  assert.equal(ws.recorder.events.length, 0, "never opened");
});

Deno.test("WsClient gives up after ws_max_connect_attempts attempts at a closed port [integration]", async () => {
  await using ws = client(wsSettings(`ws://127.0.0.1:${closedPort()}`, { maxConnectAttempts: 2 }));
  ws.start().catch(() => {});
  const error = await gaveUp(ws);
  assert.equal(ws.metrics.counter(WS_CONNECTION_ATTEMPTS_TOTAL), 2);
  assert.match(error.message, /ws_max_connect_attempts=2, ws_attempt_window_secs=1/);
  assert.match(error.message, /last: cannot reach ws:\/\/127\.0\.0\.1:\d+: Connection refused/);
  assert.equal(ws.sink.lines.filter((l) => /Cannot connect to the WebSocket API/.test(l)).length, 2);
});

Deno.test("WsClient waits longer before each new attempt [integration]", async () => {
  await using ws = client(wsSettings(`ws://127.0.0.1:${closedPort()}`, { maxConnectAttempts: 4 }));
  ws.start().catch(() => {});
  await gaveUp(ws);
  const times = ws.sink.records.filter((r) => /Cannot connect/.test(r.message)).map((r) => r.time);
  assert.equal(times.length, 4);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  // 250 ms, then 500 ms, then 1000 ms.
  assert.ok(gaps[0]! >= 240 && gaps[1]! >= 490 && gaps[2]! >= 990, `gaps ${gaps}`);
  assert.ok(gaps[0]! < gaps[1]! && gaps[1]! < gaps[2]!, `growing gaps ${gaps}`);
});

Deno.test("WsClient resets the count after a connection that outlived ws_attempt_window_secs [integration]", async () => {
  // Each connection lives 400 ms, longer than the 0.2 s window: every loss is routine.
  await using server = startWsServer({ closeAfterMs: 400 });
  await using ws = client(wsSettings(server.url, { maxConnectAttempts: 2, attemptWindowSecs: 0.2 }));
  await ws.start();
  await ws.recorder.nth("open", 5, 10_000);
  assert.equal(server.requests.length, 5, "kept reconnecting past ws_max_connect_attempts");
  const settled = await Promise.race([ws.closed.then(() => "settled", () => "rejected"), "pending"]);
  assert.equal(settled, "pending");
  assert.ok(ws.recorder.of("close").every((e) => e.info.lifetimeMs >= 350));
  await ws.close();
  await ws.closed;
});

Deno.test("WsClient gives up when connections end within ws_attempt_window_secs [integration]", async () => {
  // Each connection lives 50 ms, shorter than the 1 s window: each loss counts.
  await using server = startWsServer({ closeAfterMs: 50 });
  await using ws = client(wsSettings(server.url, { maxConnectAttempts: 3, attemptWindowSecs: 1 }));
  await ws.start();
  const error = await gaveUp(ws);
  assert.equal(server.requests.length, 3);
  assert.equal(ws.recorder.of("open").length, 3);
  assert.equal(ws.metrics.counter(WS_CONNECTIONS_LOST_TOTAL), 3);
  assert.match(error.message, /last: connection closed \(code 1000, test closes\)/);
});

Deno.test("WsClient with both settings at 0 treats the first reconnect as fatal [integration]", async () => {
  await using server = startWsServer();
  await using ws = client(wsSettings(server.url, { maxConnectAttempts: 0, attemptWindowSecs: 0 }));
  await ws.start();
  server.closeAll(1011, "going away");
  const error = await gaveUp(ws);
  assert.equal(server.requests.length, 1, "no reconnect attempted");
  assert.match(error.message, /ws_max_connect_attempts=0, ws_attempt_window_secs=0/);
  assert.match(error.message, /code 1011, going away/);
});

Deno.test("WsClient with both settings at 0 gives up after one refused attempt [integration]", async () => {
  await using server = startWsServer();
  server.refuseWith = 503;
  await using ws = client(wsSettings(server.url, { maxConnectAttempts: 0, attemptWindowSecs: 0 }));
  await assert.rejects(ws.start(), WsGaveUpError);
  assert.equal(server.requests.length, 1);
});

Deno.test("WsClient fails an attempt with no handshake within ws_connect_timeout_secs [integration]", async () => {
  await using silent = startRawWsServer({ handshake: false });
  await using ws = client(wsSettings(silent.url, { connectTimeoutSecs: 0.3, maxConnectAttempts: 2 }));
  const t0 = performance.now();
  ws.start().catch(() => {});
  const error = await gaveUp(ws);
  const elapsed = performance.now() - t0;
  assert.match(error.message, /last: no handshake within 0\.3 s/);
  assert.equal(silent.connections.length, 2, "two attempts reached the listener");
  assert.ok(elapsed >= 2 * 300 + 250 - 20 && elapsed < 3_000, `took ${elapsed} ms`);
  await ws.sink.waitFor(/Cannot connect to the WebSocket API.*no handshake within 0\.3 s/);
});

Deno.test("WsClient sends a ping frame after ws_ping_interval of silence and stays up when answered [integration]", async () => {
  await using server = startRawWsServer({ answerPings: true });
  await using ws = client(wsSettings(server.url, { pingIntervalSecs: 0.3, attemptWindowSecs: 0 }));
  await ws.start();
  const conn = await server.connection(0);
  const ping = await conn.waitFrame(OP.ping, 1, 3_000);
  const silence = ping.at - conn.openedAt;
  assert.ok(silence >= 280 && silence < 1_000, `first ping after ${silence} ms`);
  // Answered: each pong counts as life, so the client pings again instead of giving up.
  const third = await conn.waitFrame(OP.ping, 3, 3_000);
  assert.ok(third.at - ping.at >= 2 * 280, `pings about an interval apart: ${third.at - ping.at} ms`);
  assert.ok(ws.current?.isOpen, "still connected");
  assert.equal(ws.recorder.of("close").length, 0);
  assert.equal(server.connections.length, 1);
});

Deno.test("WsClient gives up a connection that answers nothing within 2 x ws_ping_interval and reconnects [integration]", async () => {
  await using server = startRawWsServer({ answerPings: false });
  await using ws = client(wsSettings(server.url, { pingIntervalSecs: 0.3, maxConnectAttempts: 5 }));
  await ws.start();
  const first = await server.connection(0);
  await first.waitFrame(OP.ping, 1, 3_000);
  await ws.recorder.nth("close", 1, 3_000);
  const waited = performance.now() - first.openedAt;
  assert.ok(waited >= 2 * 280 && waited < 2 * 300 + 600, `given up ${waited} ms after the last frame`);
  await ws.sink.waitFor(/WebSocket connection lost.*not responding: nothing received for/);
  await first.waitFrame(OP.close, 1, 3_000); // a polite close goes out behind what was written
  await server.connection(1, 3_000);
  await ws.recorder.nth("open", 2);
  assert.equal(ws.metrics.counter(WS_CONNECTIONS_LOST_TOTAL), 1);
});

Deno.test("WsClient with ws_ping_interval = 0 sends no ping frame [integration]", async () => {
  await using server = startRawWsServer({ answerPings: true });
  await using quiet = client(wsSettings(server.url, { pingIntervalSecs: 0 }));
  await quiet.start();
  const quietConn = await server.connection(0);
  // A second client pinging every 0.2 s is the clock: by its third ping, 0.6 s of
  // silence have passed, well past when the first would have pinged at any interval that short.
  await using control = client(wsSettings(server.url, { pingIntervalSecs: 0.2 }));
  await control.start();
  const controlConn = await server.connection(1);
  await controlConn.waitFrame(OP.ping, 3, 3_000);
  assert.deepEqual(quietConn.frames, [], "no frame at all from the client with pings off");
  assert.ok(quiet.current?.isOpen);
});

Deno.test("WsConnection.send() carries text and binary frames both ways and counts bytes [integration]", async () => {
  await using server = startWsServer();
  await using ws = client(wsSettings(server.url));
  await ws.start();
  const { conn } = await ws.recorder.nth("open", 1);
  assert.equal(ws.current, conn);
  assert.ok(conn.isOpen);
  assert.equal(conn.sentBytes, 0);
  const text = "héllo ✓";
  const bytes = new Uint8Array([0, 1, 0xfe, 0xff, 0x80]);
  assert.equal(conn.send(new TextEncoder().encode(text), true), true);
  assert.equal(conn.send(bytes, false), true);
  await server.receivedCount(2);
  assert.equal(server.received[0], text);
  assert.deepEqual(server.received[1], bytes);
  assert.equal(conn.sentBytes, new TextEncoder().encode(text).length + bytes.length);
  const [echoText, echoBytes] = [await ws.recorder.nth("message", 1), await ws.recorder.nth("message", 2)];
  assert.equal(echoText.data, text);
  assert.ok(echoBytes.data instanceof Uint8Array, "binary frames arrive as bytes");
  assert.deepEqual(echoBytes.data, bytes);
  assert.equal(echoText.conn, conn);
});

Deno.test("WsConnection.writtenBytes counts a frame once it is written to the socket, announced by onWritten [integration]", async () => {
  await using server = startWsServer({ echo: false });
  await using ws = client(wsSettings(server.url));
  await ws.start();
  const { conn } = await ws.recorder.nth("open", 1);
  assert.equal(conn.writtenBytes, 0);
  const big = new Uint8Array(8 * 1024 * 1024).fill(7);
  conn.send(big, false);
  conn.send(new TextEncoder().encode("small"), true);
  assert.equal(conn.sentBytes, big.length + 5);
  await server.receivedCount(2);
  const last = await withDeadline(
    (async () => {
      for (let n = 1;; n++) if ((await ws.recorder.nth("written", n)).bytes === big.length + 5) return n;
    })(),
    5_000,
    "an onWritten event with every byte written",
  );
  const counts = ws.recorder.of("written").slice(0, last).map((e) => e.bytes);
  assert.ok(
    !counts.some((c) => c > 0 && c < big.length),
    `a frame counts only when all of it is written: ${counts}`,
  );
  assert.equal((server.received[0] as Uint8Array).length, big.length);
});

Deno.test("WsConnection.send() returns false and sends nothing once the connection closed [integration]", async () => {
  await using server = startWsServer();
  await using ws = client(wsSettings(server.url, { maxConnectAttempts: 5 }));
  await ws.start();
  const { conn } = await ws.recorder.nth("open", 1);
  server.closeAll(1011, "bye");
  const { info } = await ws.recorder.nth("close", 1);
  assert.equal(info.code, 1011);
  assert.equal(info.reason, "bye");
  assert.equal(conn.isOpen, false);
  assert.equal(conn.send(new TextEncoder().encode("late"), true), false);
  assert.equal(conn.sentBytes, 0);
  assert.equal(conn.writtenBytes, 0);
  const { conn: next } = await ws.recorder.nth("open", 2);
  assert.notEqual(next.id, conn.id);
  assert.equal(ws.current, next);
  assert.equal(server.received.length, 0);
});

Deno.test("WsClient.close() is safe twice and concurrently, closes with 1000 and stops reconnecting [integration]", async () => {
  await using server = startWsServer();
  const ws = client(wsSettings(server.url));
  await ws.start();
  const socket = [...server.sockets][0]!;
  const serverSawClose = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
  const [a, b] = [ws.close(), ws.close()];
  await withDeadline(Promise.all([a, b]), 3_000, "both close() calls to resolve");
  await ws.close();
  await ws.closed;
  const event = await withDeadline(serverSawClose, 2_000, "the server to see the close");
  assert.equal(event.code, 1000);
  assert.equal(ws.current, null);
  assert.equal(ws.metrics.counter(WS_CONNECTION_ATTEMPTS_TOTAL), 1, "no reconnect after close()");
  assert.equal(ws.metrics.counter(WS_CONNECTIONS_LOST_TOTAL), 0, "a close of our own is not a loss");
  assert.equal(server.requests.length, 1);
  assert.equal(ws.recorder.of("close").length, 1);
});

Deno.test("WsClient.close() right after start() leaves no connection open [integration]", async () => {
  await using server = startWsServer();
  const ws = client(wsSettings(server.url));
  const started = ws.start();
  await withDeadline(ws.close(), 3_000, "close() to resolve");
  await started;
  await ws.closed;
  assert.equal(ws.current, null);
  assert.equal(server.sockets.size, 0, "no socket left open on the server");
  assert.equal(server.requests.length, 0, "no attempt started after close()");
});

Deno.test("WsClient.close() during the back-off between attempts returns at once [integration]", async () => {
  await using ws = client(wsSettings(`ws://127.0.0.1:${closedPort()}`, { maxConnectAttempts: 5 }));
  ws.start().catch(() => {});
  await ws.sink.waitFor(/Cannot connect to the WebSocket API.*attempt=2/);
  const t0 = performance.now();
  await ws.close();
  assert.ok(performance.now() - t0 < 200, "the 500 ms back-off was cut short");
  await ws.closed;
  assert.equal(ws.metrics.counter(WS_CONNECTION_ATTEMPTS_TOTAL), 2);
});

Deno.test("WsClient.close() during a handshake that never completes returns promptly [integration]", async () => {
  await using silent = startRawWsServer({ handshake: false });
  await using ws = client(wsSettings(silent.url, { connectTimeoutSecs: 5 }));
  ws.start().catch(() => {});
  await silent.connection(0);
  const t0 = performance.now();
  await withDeadline(ws.close(), 4_000, "close() to resolve");
  assert.ok(performance.now() - t0 < 2_500, `close took ${performance.now() - t0} ms`);
  await ws.closed;
});

Deno.test("WsClient.close() returns within a bounded time when the server never answers the close [integration]", async () => {
  await using server = startRawWsServer({ answerClose: false });
  await using ws = client(wsSettings(server.url));
  await ws.start();
  const conn = await server.connection(0);
  const t0 = performance.now();
  await withDeadline(ws.close(), 6_000, "close() with a server that ignores it");
  const took = performance.now() - t0;
  assert.ok(took < 4_000, `close() took ${took} ms`);
  await conn.waitFrame(OP.close);
  await ws.closed;
  await ws.sink.waitFor(/WARN .*did not answer the close within 2000 ms/);
  await ws.recorder.nth("close", 1); // the relay cut the connection
  assert.equal(ws.metrics.counter(WS_CONNECTION_ATTEMPTS_TOTAL), 1, "no reconnect after close()");
});

Deno.test("WsClient sends no ping before the handshake is answered, and watches the connection once open [integration]", async () => {
  // A server that answers the upgrade 1 s late (over three ping intervals), noting what arrives meanwhile.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let early = -1;
  let opened = 0;
  const served = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(65_536);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      head += new TextDecoder().decode(buffer.subarray(0, (await conn.read(buffer))!));
    }
    let got = head.length - head.indexOf("\r\n\r\n") - 4;
    const reading = (async () => {
      for (let n; (n = await conn.read(buffer).catch(() => null)) !== null;) if (!opened) got += n;
    })();
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the answer's delay is the test's subject
    early = got;
    const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? "";
    await conn.write(new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n\r\n`,
    ));
    opened = performance.now();
    await reading; // pings are never answered from here: the client must give up
    conn.close();
  })();
  try {
    await using ws = client(wsSettings(`ws://127.0.0.1:${listener.addr.port}`, {
      pingIntervalSecs: 0.3,
      connectTimeoutSecs: 5,
      maxConnectAttempts: 1,
    }));
    await ws.start();
    assert.equal(early, 0, "nothing but the request before the 101");
    await ws.recorder.nth("close", 1, 5_000);
    const after = performance.now() - opened;
    assert.ok(after >= 2 * 280 && after < 3_000, `given up ${after} ms after it opened`);
    await ws.sink.waitFor(/not responding/);
  } finally {
    listener.close();
    await served.catch(() => {});
  }
});

Deno.test("WsClient keeps an API that only reads, under a stream of 100 KiB frames: pings go between them [integration]", async () => {
  await using server = startRawWsServer({ answerPings: true });
  await using ws = client(wsSettings(server.url, { pingIntervalSecs: 0.2, attemptWindowSecs: 0 }));
  await ws.start();
  const { conn } = await ws.recorder.nth("open", 1);
  const frame = new Uint8Array(100 * 1024).fill(1);
  const until = performance.now() + 2_000;
  // Keep about 1 MiB sent and not yet written, as to_ws does under load: the relay's reads end anywhere.
  while (performance.now() < until && ws.recorder.of("close").length === 0) {
    while (conn.sentBytes - conn.writtenBytes < 1_048_576) conn.send(frame, false);
    await ws.recorder.nth("written", ws.recorder.of("written").length + 1, 2_000);
  }
  assert.equal(ws.recorder.of("close").length, 0, ws.sink.text);
  const raw = await server.connection(0);
  assert.ok(raw.framesOf(OP.ping).length >= 4, `${raw.framesOf(OP.ping).length} pings in 2 s at 0.2 s`);
  assert.ok(raw.framesOf(OP.binary).length > 20, "and the frames around them arrived whole");
});

Deno.test("WsClient.close() returns promptly while a wss:// API accepts TCP and never answers TLS [integration]", async () => {
  await using silent = startRawWsServer({ handshake: false });
  await using ws = client(
    wsSettings(`wss://127.0.0.1:${new URL(silent.url).port}`, { connectTimeoutSecs: 30 }),
  );
  ws.start().catch(() => {});
  await silent.connection(0);
  const t0 = performance.now();
  await withDeadline(ws.close(), 3_000, "close() during a TLS handshake that never ends");
  assert.ok(performance.now() - t0 < 2_500, `close took ${performance.now() - t0} ms`);
});

Deno.test("WsClient notices at once that the API reset the connection while its reading is paused [integration]", async () => {
  await using server = startRawWsServer();
  await using ws = client(wsSettings(server.url, { maxConnectAttempts: 5 }));
  await ws.start();
  const { conn } = await ws.recorder.nth("open", 1);
  ws.setReadingPaused(true); // backpressure
  const raw = await server.connection(0);
  // The relay's read under way takes this one message; after it, nothing more is read.
  await raw.send(OP.text, new TextEncoder().encode("the last one read"));
  await ws.recorder.nth("message", 1);
  raw.close(); // its FIN is never read
  await raw.ended;
  const t0 = performance.now();
  // The first write after the close is answered with a reset; the next one fails.
  for (let i = 0; i < 50 && ws.recorder.of("close").length === 0; i++) {
    conn.send(new TextEncoder().encode(`after the reset ${i}`), true);
    await new Promise((resolve) => setTimeout(resolve, 20)); // paces the writes; the close is the event awaited
  }
  await ws.recorder.nth("close", 1, 2_000);
  assert.ok(performance.now() - t0 < 1_500, `noticed after ${performance.now() - t0} ms`);
  await ws.sink.waitFor(/WebSocket connection lost.*cannot write to the API/, 1_000);
});
