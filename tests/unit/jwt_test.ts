/**
 * The WebSocket API token (SPEC 5): checked independently of handlers/ws/jwt.ts,
 * with WebCrypto's HMAC verify and a base64url decoder of the test's own.
 */
import assert from "node:assert/strict";
import {
  base64Url,
  hexToBytes,
  makeToken,
  tokenClaims,
  type TokenInput,
  tokenUrl,
  wsUrl,
} from "../../handlers/ws/jwt.ts";
import { parseConfig } from "../../config/config.ts";
import { Secret } from "../../lib/secret.ts";
import { fromBase64Url, UUID_V4, verifyToken } from "../_jwt.ts";

const SECRET_HEX = "00ff10a0c0de5ec7e7fe0b1e2e3f";

function input(overrides: Partial<TokenInput> = {}): TokenInput {
  return {
    clientId: "client-42",
    clientSecret: new Secret(SECRET_HEX),
    apiHost: "wss://api.example.com",
    apiUri: "/path/to/ws",
    now: 1_700_000_000.75,
    nonce: crypto.randomUUID(),
    ...overrides,
  };
}

Deno.test("makeToken() signs HS256 with the hex-decoded client_secret (verified with WebCrypto)", async () => {
  const token = await makeToken(input());
  await verifyToken(token, SECRET_HEX); // asserts the signature
  // The same token must not verify under the secret's text used as the key (the original hex-decodes).
  const [h, p, s] = token.split(".") as [string, string, string];
  const asText = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(SECRET_HEX),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  assert.equal(
    await crypto.subtle.verify("HMAC", asText, fromBase64Url(s), new TextEncoder().encode(`${h}.${p}`)),
    false,
  );
});

Deno.test('makeToken() writes the header exactly {"alg":"HS256","typ":"JWT"}', async () => {
  const { headerJson } = await verifyToken(await makeToken(input()), SECRET_HEX);
  assert.equal(headerJson, '{"alg":"HS256","typ":"JWT"}');
});

Deno.test("makeToken() carries every claim of the original, with times from now", async () => {
  const nonce = crypto.randomUUID();
  const { claims } = await verifyToken(await makeToken(input({ nonce })), SECRET_HEX);
  const now = 1_700_000_000;
  for (const key of ["exp", "nbf", "iat", "connection_expiry"]) {
    assert.ok(Number.isInteger(claims[key]), `${key} is whole seconds`);
  }
  assert.deepEqual(claims, {
    iss: "client-42",
    kid: "client-42",
    client_id: "client-42",
    exp: now + 300,
    nbf: now - 60,
    iat: now - 60,
    region: "ny",
    method: "GET",
    path: "/path/to/ws",
    host: "wss://api.example.com",
    nonce,
    connection_expiry: now + 300,
  });
});

Deno.test("tokenClaims() keeps the original's claim order", () => {
  assert.deepEqual(Object.keys(tokenClaims(input())), [
    "iss",
    "kid",
    "client_id",
    "exp",
    "nbf",
    "iat",
    "region",
    "method",
    "path",
    "host",
    "nonce",
    "connection_expiry",
  ]);
});

Deno.test("makeToken() is base64url without padding in every segment", async () => {
  // Lengths chosen so plain base64 would need padding and contain + or /.
  for (const clientId of ["a", "ab", "abc", "~~~>>>???", "ünïcødé-client"]) {
    const token = await makeToken(input({ clientId }));
    for (const segment of token.split(".")) {
      assert.match(segment, /^[A-Za-z0-9_-]+$/, `segment of ${clientId}: ${segment}`);
    }
    const { claims } = await verifyToken(token, SECRET_HEX);
    assert.equal(claims.client_id, clientId, "UTF-8 claims survive the round trip");
  }
});

Deno.test("makeToken() uses the nonce it is given, a UUIDv4 from crypto.randomUUID()", async () => {
  const a = await verifyToken(await makeToken(input()), SECRET_HEX);
  const b = await verifyToken(await makeToken(input()), SECRET_HEX);
  assert.match(String(a.claims.nonce), UUID_V4);
  assert.notEqual(a.claims.nonce, b.claims.nonce);
});

Deno.test("base64Url() encodes strings as UTF-8 and bytes as they are, without padding", () => {
  assert.equal(base64Url(""), "");
  assert.equal(base64Url("f"), "Zg");
  assert.equal(base64Url("fo"), "Zm8");
  assert.equal(base64Url("foo"), "Zm9v");
  assert.equal(base64Url(new Uint8Array([0xfb, 0xff, 0xfe])), "-__-");
  assert.equal(base64Url("é"), "w6k");
});

Deno.test("hexToBytes() decodes upper and lower case hex", () => {
  assert.deepEqual(hexToBytes("00fF7a"), new Uint8Array([0, 255, 122]));
  assert.deepEqual(hexToBytes(""), new Uint8Array([]));
});

Deno.test("wsUrl() appends ?jwt= to a URI without a query", () => {
  assert.equal(
    wsUrl("wss://api.example.com", "/path/to/ws", "a.b.c"),
    "wss://api.example.com/path/to/ws?jwt=a.b.c",
  );
});

Deno.test("wsUrl() joins with & when the URI already has a query", () => {
  assert.equal(wsUrl("wss://h", "/ws?x=1", "a.b.c"), "wss://h/ws?x=1&jwt=a.b.c");
  assert.equal(wsUrl("wss://h", "/ws?x=1&y=2", "a.b.c"), "wss://h/ws?x=1&y=2&jwt=a.b.c");
});

Deno.test("wsUrl() adds no separator when the URI ends in ? or &", () => {
  assert.equal(wsUrl("wss://h", "/ws?", "a.b.c"), "wss://h/ws?jwt=a.b.c");
  assert.equal(wsUrl("wss://h", "/ws?x=1&", "a.b.c"), "wss://h/ws?x=1&jwt=a.b.c");
});

Deno.test("wsUrl() keeps a real token intact as the jwt parameter", async () => {
  const token = await makeToken(input());
  const url = new URL(wsUrl("wss://api.example.com", "/path/to/ws?v=2", token));
  assert.equal(url.searchParams.get("jwt"), token);
  assert.equal(url.searchParams.get("v"), "2");
  assert.equal(url.pathname, "/path/to/ws");
});

Deno.test("tokenUrl() with an API Gateway stage in api_host: URL = api_host + api_uri, claims host = api_host, path = api_uri", async () => {
  const apiHost = "wss://abc123.execute-api.us-east-1.amazonaws.com/prod";
  const settings = parseConfig({
    source: "t.ini",
    values: new Map(Object.entries({
      "ws_api.client_id": "client-42",
      "ws_api.client_secret": SECRET_HEX,
      "ws_api.api_host": apiHost,
      "ws_api.api_uri": "/ws?v=2",
      "aws_mq.mq_url": "amqp://127.0.0.1",
      "aws_mq.mq_qname_to_ws": "a",
      "aws_mq.mq_qname_from_ws": "b",
    })),
  }, { ws: true, logs: false, metrics: false }).ws!;
  const url = new URL(await tokenUrl(settings, 1_700_000_000));
  assert.equal(url.host, "abc123.execute-api.us-east-1.amazonaws.com");
  assert.equal(url.pathname, "/prod/ws");
  assert.equal(url.searchParams.get("v"), "2");
  const { claims } = await verifyToken(url.searchParams.get("jwt")!, SECRET_HEX);
  assert.equal(claims.host, apiHost, "the original's host claim: api_host as configured");
  assert.equal(claims.path, "/ws?v=2", "the original's path claim: api_uri as configured");
});
