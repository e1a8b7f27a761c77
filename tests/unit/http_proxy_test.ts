/** Which proxy the WebSocket connection goes through (handlers/ws/http_proxy.ts); the tunnel itself is tested against tinyproxy. */
import assert from "node:assert/strict";
import { bypasses, proxyEnvFrom, proxyFor, proxyLabel } from "../../handlers/ws/http_proxy.ts";

const wss = { hostname: "api.example.com", port: 443, tls: true };
const ws = { hostname: "api.example.com", port: 80, tls: false };

Deno.test("proxyFor() takes HTTPS_PROXY for wss:// and HTTP_PROXY for ws://", () => {
  const env = { httpsProxy: "http://secure:3128", httpProxy: "http://plain:8080" };
  assert.equal(proxyFor(wss, env)?.host, "secure:3128");
  assert.equal(proxyFor(ws, env)?.host, "plain:8080");
  assert.equal(proxyFor(wss, {}), null);
  assert.equal(
    proxyFor(wss, { httpsProxy: "proxy.corp:3128" })?.href,
    "http://proxy.corp:3128/",
    "scheme optional",
  );
});

Deno.test("proxyFor() refuses a proxy it cannot speak to, naming the variable, not the credentials", () => {
  assert.throws(() => proxyFor(wss, { httpsProxy: "https://p:443" }), /HTTPS_PROXY: only http:\/\/ proxies/);
  assert.throws(() => proxyFor(wss, { httpsProxy: "http://u:secret@[bad" }), (err: Error) => {
    assert.match(err.message, /HTTPS_PROXY is not a proxy URL/);
    assert.ok(!err.message.includes("secret"));
    return true;
  });
});

Deno.test("bypasses() reads NO_PROXY as curl does: *, names, suffixes, addresses, ports", () => {
  assert.ok(bypasses("api.example.com", 443, "*"));
  assert.ok(bypasses("api.example.com", 443, "example.com"));
  assert.ok(bypasses("api.example.com", 443, ".example.com"));
  assert.ok(bypasses("api.example.com", 443, "*.example.com"));
  assert.ok(bypasses("API.Example.com", 443, "other.org, api.example.com"));
  assert.ok(!bypasses("notexample.com", 443, "example.com"), "a suffix matches on a dot");
  assert.ok(bypasses("api.example.com", 443, "api.example.com:443"));
  assert.ok(!bypasses("api.example.com", 443, "api.example.com:8443"));
  assert.ok(bypasses("10.0.0.7", 80, "10.0.0.7"));
  assert.ok(bypasses("::1", 80, "::1"));
  assert.ok(bypasses("::1", 80, "[::1]:80"));
  assert.ok(!bypasses("api.example.com", 443, ""));
  assert.equal(proxyFor(wss, { httpsProxy: "http://p:3128", noProxy: "example.com" }), null);
});

Deno.test("proxyEnvFrom() prefers the lower-case names, as curl does; proxyLabel() hides credentials", () => {
  const vars = new Map([["HTTPS_PROXY", "http://upper:1"], ["https_proxy", "http://lower:2"], [
    "NO_PROXY",
    "x",
  ]]);
  const env = proxyEnvFrom((name) => vars.get(name));
  assert.equal(env.httpsProxy, "http://lower:2");
  assert.equal(env.noProxy, "x");
  assert.equal(proxyLabel(new URL("http://user:pw@proxy:3128")), "http://proxy:3128");
});
