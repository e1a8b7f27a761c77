/**
 * The HTTP endpoint's address as the operator writes it (`HOST:PORT`), as
 * pure parsing: `parseListenAddress()`, the `--http-listen` flag and the
 * `service.http_listen` key. Binding it is tested in http_endpoint_test.ts,
 * the program's exit statuses in tests/integration/http_listen_test.ts.
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig, parseListenAddress } from "../../config/config.ts";
import { parseBridgeArgs, UsageError } from "../../config/bridge_args.ts";
import { bridgeValues } from "../_bridge.ts";

Deno.test("parseListenAddress() reads IPv4, IPv6 in brackets and host names, port 0 included", () => {
  const cases: [string, string, number][] = [
    ["127.0.0.1:9464", "127.0.0.1", 9464],
    ["0.0.0.0:80", "0.0.0.0", 80],
    ["[::1]:9464", "::1", 9464],
    ["[::]:9464", "::", 9464],
    ["localhost:0", "localhost", 0],
    [" 127.0.0.1:65535 ", "127.0.0.1", 65535],
  ];
  for (const [text, hostname, port] of cases) {
    assert.deepEqual(parseListenAddress(text), { hostname, port }, text);
  }
});

Deno.test("parseListenAddress() says why a value is not HOST:PORT", () => {
  for (
    const text of [
      "",
      "127.0.0.1",
      ":9464",
      "9464",
      "::1:9464",
      "[::1]",
      "host:port",
      "a b:1",
      "h:-1",
      "h:123456",
    ]
  ) {
    assert.match(String(parseListenAddress(text)), /^is not HOST:PORT \(e\.g\. 127\.0\.0\.1:9464/, text);
  }
  assert.equal(parseListenAddress("127.0.0.1:65536"), "has a port over 65535");
});

Deno.test("parseBridgeArgs() reads --http-listen and names the flag when it is not HOST:PORT", () => {
  assert.deepEqual(parseBridgeArgs(["--http-listen", "[::1]:9"]).httpListen, { hostname: "::1", port: 9 });
  assert.equal(parseBridgeArgs([]).httpListen, null);
  assert.throws(
    () => parseBridgeArgs(["--http-listen", "127.0.0.1"]),
    (e) =>
      e instanceof UsageError && /^argument --http-listen: "127\.0\.0\.1" is not HOST:PORT/.test(e.message),
  );
});

Deno.test("parseConfig() resolves service.http_listen (off by default) and names the key when it is bad", () => {
  const parse = (extra: Record<string, string>) =>
    parseConfig({
      source: "t.ini",
      values: new Map(Object.entries(bridgeValues({ toWs: "a", fromWs: "b" }, extra))),
    }, { ws: false, logs: false, metrics: false });
  assert.equal(parse({}).service.httpListen, null);
  assert.deepEqual(parse({ "service.http_listen": "0.0.0.0:9464" }).service.httpListen, {
    hostname: "0.0.0.0",
    port: 9464,
  });
  assert.throws(
    () => parse({ "service.http_listen": "nonsense" }),
    (e) =>
      e instanceof ConfigError &&
      e.problems.some((p) => /^service\.http_listen: "nonsense" is not HOST:PORT/.test(p)),
  );
});
