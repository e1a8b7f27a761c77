/**
 * The HTTP endpoint (handlers/http/server.ts) on 127.0.0.1 port 0, with
 * sources the test sets, asked over real HTTP: routes, methods, status
 * codes, bodies and headers; binding errors; a failing source; close().
 */
import assert from "node:assert/strict";
import {
  type HttpEndpoint,
  type HttpEndpointOptions,
  HttpListenError,
  openHttpEndpoint,
} from "../../handlers/http/server.ts";
import { createLogger, MemorySink } from "../../lib/log.ts";

/** The endpoint's close() gives Deno's server.shutdown() this long (CLOSE_TIMEOUT_MS in server.ts). */
const CLOSE_BOUND_MS = 2_000;

/** An endpoint with a readiness the test flips (`state.ready`), its log lines in `sink`. */
function open(extra: Partial<HttpEndpointOptions> = {}) {
  const sink = new MemorySink();
  const state = { ready: true, body: { ready: true, reasons: [] as string[] } as unknown };
  const endpoint = openHttpEndpoint({
    hostname: "127.0.0.1",
    port: 0,
    log: createLogger({ sink, info: true, debug: false }, "http"),
    ready: () => ({ ready: state.ready, body: state.body }),
    ...extra,
  });
  const url = (path: string) => `http://127.0.0.1:${endpoint.port}${path}`;
  return { endpoint, sink, state, url };
}

/** One request; the body read in full (so nothing is left open). */
async function request(url: string, method = "GET") {
  const response = await fetch(url, { method });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Raw HTTP/1.1 over one TCP connection the test keeps open. */
async function rawConnection(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buffer = new Uint8Array(65_536);
  return {
    conn,
    send: (text: string) => conn.write(new TextEncoder().encode(text)),
    /** The next chunk the server sends, or null at end of stream. */
    read: async () => {
      const n = await conn.read(buffer);
      return n === null ? null : new TextDecoder().decode(buffer.subarray(0, n));
    },
  };
}

/** Sends `text` on a new connection and returns all the server sent until it closed. */
async function rawExchange(port: number, text: string): Promise<string> {
  const client = await rawConnection(port);
  try {
    await client.send(text);
    let all = "";
    for (let chunk; (chunk = await client.read()) !== null;) all += chunk;
    return all;
  } finally {
    client.conn.close();
  }
}

Deno.test("openHttpEndpoint() answers GET /ping with 200 pong", async () => {
  await using e = open().endpoint;
  const r = await request(`http://127.0.0.1:${e.port}/ping`);
  assert.equal(r.status, 200);
  assert.equal(r.body, "pong\n");
  assert.match(r.headers.get("content-type") ?? "", /^text\/plain/);
});

Deno.test("openHttpEndpoint() answers /ready with 200 or 503 and the JSON body, as application/json", async () => {
  const { endpoint, state, url } = open();
  await using _ = endpoint;
  state.body = { ready: true, reasons: [], broker: { consume: { state: "up" } } };
  let r = await request(url("/ready"));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.equal(r.headers.get("cache-control"), "no-store");
  assert.deepEqual(JSON.parse(r.body), state.body);
  state.ready = false;
  state.body = { ready: false, reasons: ["the WebSocket is down since 2026-01-01T00:00:00.000Z"] };
  r = await request(url("/ready"));
  assert.equal(r.status, 503);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.deepEqual(JSON.parse(r.body), state.body);
});

Deno.test("openHttpEndpoint() answers HEAD with the GET's status and headers and no body", async () => {
  const { endpoint, state, url } = open({ metrics: () => ({ text: "m 1\n", contentType: "text/plain" }) });
  await using _ = endpoint;
  for (const ready of [true, false]) {
    state.ready = ready;
    for (const path of ["/ping", "/ready", "/metrics"]) {
      const get = await request(url(path));
      const head = await request(url(path), "HEAD");
      assert.equal(head.status, get.status, `${path} ready=${ready}`);
      assert.equal(head.headers.get("content-type"), get.headers.get("content-type"), path);
      // RFC 9110 8.6: a Content-Length in a HEAD response must be the one the GET would have.
      const length = String(new TextEncoder().encode(get.body).length);
      assert.equal(head.headers.get("content-length"), length, path);
      // fetch() never reads a HEAD's body, so look at the wire: headers, then the end of the stream.
      const wire = await rawExchange(
        endpoint.port,
        `HEAD ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
      );
      assert.match(wire, new RegExp(`^HTTP/1\\.1 ${get.status} `), path);
      assert.ok(wire.endsWith("\r\n\r\n"), `${path}: nothing after the headers:\n${wire}`);
    }
  }
});

Deno.test("openHttpEndpoint() answers POST, PUT and DELETE with 405 and Allow: GET, HEAD", async () => {
  const { endpoint, url } = open({ metrics: () => ({ text: "", contentType: "text/plain" }) });
  await using _ = endpoint;
  for (const path of ["/ping", "/ready", "/metrics"]) {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const r = await request(url(path), method);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get("allow"), "GET, HEAD", `${method} ${path}`);
    }
  }
});

Deno.test("openHttpEndpoint() answers 404 for any other path and ignores query strings", async () => {
  const { endpoint, state, url } = open();
  await using _ = endpoint;
  for (const path of ["/", "/other", "/ping/", "/PING", "/ready.json", "/favicon.ico"]) {
    assert.equal((await request(url(path))).status, 404, path);
  }
  assert.equal(
    (await request(url("/other"), "POST")).status,
    404,
    "an unknown path is 404 whatever the method",
  );
  const ping = await request(url("/ping?verbose=1&x"));
  assert.deepEqual([ping.status, ping.body], [200, "pong\n"]);
  state.ready = false;
  assert.equal((await request(url("/ready?full"))).status, 503);
});

Deno.test("openHttpEndpoint() answers /metrics with 404 without a metrics source, 200 and its content type with one", async () => {
  const without = open();
  await using _a = without.endpoint;
  assert.equal((await request(without.url("/metrics"))).status, 404);
  const contentType = "text/plain; version=0.0.4; charset=utf-8";
  let calls = 0;
  const withMetrics = open({ metrics: () => ({ text: `calls ${++calls}\n`, contentType }) });
  await using _b = withMetrics.endpoint;
  const r = await request(withMetrics.url("/metrics"));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), contentType);
  assert.equal(r.body, "calls 1\n");
  assert.equal((await request(withMetrics.url("/metrics"))).body, "calls 2\n", "read at each request");
});

Deno.test("openHttpEndpoint() on a port already taken throws HttpListenError saying address already in use", async () => {
  await using first = open().endpoint;
  assert.throws(
    () => open({ port: first.port }),
    (err) =>
      err instanceof HttpListenError &&
      err.message.includes(`127.0.0.1:${first.port}`) &&
      err.message.includes("address already in use"),
  );
  assert.equal(
    (await request(`http://127.0.0.1:${first.port}/ping`)).status,
    200,
    "the first one still serves",
  );
});

Deno.test("openHttpEndpoint() on an address that is not this machine's throws HttpListenError saying so", () => {
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
  assert.throws(
    () => open({ hostname: "192.0.2.1" }),
    (err) =>
      err instanceof HttpListenError &&
      /192\.0\.2\.1:0: the address is not one of this machine's/.test(err.message),
  );
});

Deno.test("openHttpEndpoint() logs the address it listens on, with the port picked for port 0", async () => {
  const { endpoint, sink } = open();
  await using _ = endpoint;
  assert.ok(endpoint.port > 0);
  assert.match(
    sink.text,
    new RegExp(`INFO  \\[http\\] HTTP endpoint listening address=127\\.0\\.0\\.1:${endpoint.port}$`),
  );
});

Deno.test("openHttpEndpoint() answers 500 and logs an ERROR when a source throws, and keeps serving", async () => {
  const { endpoint, sink, url } = open({
    ready: () => {
      throw new Error("readiness exploded");
    },
  });
  await using _ = endpoint;
  const r = await request(url("/ready"));
  assert.equal(r.status, 500);
  assert.ok(!r.body.includes("exploded"), "the error's text is not sent to the client");
  assert.match(sink.text, /ERROR \[http\] The HTTP endpoint could not answer a request .*readiness exploded/);
  assert.deepEqual([(await request(url("/ping"))).status, (await request(url("/ready"))).status], [200, 500]);
});

Deno.test("HttpEndpoint.close() is safe twice and frees the port", async () => {
  const { endpoint, url } = open();
  assert.equal((await request(url("/ping"))).status, 200);
  const [a, b] = [endpoint.close(), endpoint.close()];
  assert.equal(a, b, "concurrent callers share one promise");
  await a;
  await endpoint.close();
  await endpoint[Symbol.asyncDispose]();
  await assert.rejects(fetch(url("/ping")), TypeError, "nothing answers any more");
  let again: HttpEndpoint | null = null;
  try {
    again = open({ port: endpoint.port }).endpoint;
    assert.equal(again.port, endpoint.port);
  } finally {
    await again?.close();
  }
});

Deno.test("HttpEndpoint.close() returns at once with an idle keep-alive connection open, and closes it", async () => {
  const { endpoint } = open();
  const client = await rawConnection(endpoint.port);
  try {
    await client.send("GET /ping HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n");
    assert.match((await client.read()) ?? "", /^HTTP\/1\.1 200 [^]*pong\n$/);
    const started = performance.now();
    await endpoint.close();
    const took = performance.now() - started;
    assert.ok(took < CLOSE_BOUND_MS / 2, `close() took ${Math.round(took)} ms with an idle connection`);
    assert.equal(await client.read(), null, "the server closed the idle connection");
  } finally {
    client.conn.close();
  }
});

Deno.test("HttpEndpoint.close() is bounded when a client stops reading a response", async () => {
  // 64 MiB of /metrics fills the socket buffers long before it is all written: the response stays
  // in flight, which Deno's server.shutdown() waits for.
  const text = "x".repeat(64 * 1024 * 1024);
  const { endpoint } = open({ metrics: () => ({ text, contentType: "text/plain" }) });
  const client = await rawConnection(endpoint.port);
  try {
    await client.send("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
    assert.match((await client.read()) ?? "", /^HTTP\/1\.1 200 /, "the response started");
    const started = performance.now();
    await endpoint.close();
    const took = performance.now() - started;
    assert.ok(took < CLOSE_BOUND_MS + 500, `close() took ${Math.round(took)} ms`);
    const again = open({ port: endpoint.port }).endpoint; // the listener is gone even so
    await again.close();
  } finally {
    client.conn.close();
  }
});

Deno.test("openHttpEndpoint() binds exactly the address given: 127.0.0.1 is not reachable on 127.0.0.2", async () => {
  const { endpoint, url } = open();
  try {
    assert.equal((await request(url("/ping"))).status, 200);
    await assert.rejects(
      () => Deno.connect({ hostname: "127.0.0.2", port: endpoint.port }),
      Deno.errors.ConnectionRefused,
      "another loopback address: nothing listens there",
    );
  } finally {
    await endpoint.close();
  }
});
