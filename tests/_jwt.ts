/**
 * Test helper: checks a token the way the WebSocket API would, independently
 * of handlers/ws/jwt.ts (its own base64url and hex decoding, WebCrypto's verify).
 */
import assert from "node:assert/strict";

/** A decoded, signature-checked token. */
export interface VerifiedToken {
  headerJson: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  segments: [string, string, string];
}

/** Decodes base64url (no padding expected) to bytes; rejects padding and foreign characters. */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  assert.match(text, /^[A-Za-z0-9_-]*$/, `not base64url without padding: "${text}"`);
  const standard = text.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(standard + "=".repeat((4 - standard.length % 4) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function hex(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/** Verifies the HS256 signature with the hex-decoded secret and decodes header and claims. */
export async function verifyToken(token: string, hexSecret: string): Promise<VerifiedToken> {
  const segments = token.split(".");
  assert.equal(segments.length, 3, "a JWT has three segments");
  const [header, payload, signature] = segments as [string, string, string];
  const key = await crypto.subtle.importKey("raw", hex(hexSecret), { name: "HMAC", hash: "SHA-256" }, false, [
    "verify",
  ]);
  const valid = await crypto.subtle.verify(
    "HMAC",
    key,
    fromBase64Url(signature),
    new TextEncoder().encode(`${header}.${payload}`),
  );
  assert.ok(valid, "the HMAC-SHA256 signature verifies with the hex-decoded client_secret");
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const headerJson = decoder.decode(fromBase64Url(header));
  return {
    headerJson,
    header: JSON.parse(headerJson),
    claims: JSON.parse(decoder.decode(fromBase64Url(payload))),
    segments: [header, payload, signature],
  };
}

/** RFC 4122 version 4, variant 10xx. */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
