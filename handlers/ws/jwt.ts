/**
 * The WebSocket API's token, in the original service's scheme (kept for
 * compatibility): an HS256 JWT whose key is the hex-decoded client_secret,
 * appended to the URL as `jwt=<token>`. A fresh token for every connection
 * attempt. The token is a credential; the URL that carries it is never logged.
 */
import type { Secret } from "../../lib/secret.ts";

/** What the token is made of; `now` is seconds since the epoch. */
export interface TokenInput {
  clientId: string;
  clientSecret: Secret;
  apiHost: string;
  apiUri: string;
  now: number;
  nonce: string;
}

/** Token lifetime and clock-skew allowance, as in the original. */
const LIFETIME_SECS = 300;
const SKEW_SECS = 60;

/** The claims, in the original's order. */
export function tokenClaims(input: TokenInput): Record<string, string | number> {
  const now = Math.floor(input.now);
  return {
    iss: input.clientId,
    kid: input.clientId,
    client_id: input.clientId,
    exp: now + LIFETIME_SECS,
    nbf: now - SKEW_SECS,
    iat: now - SKEW_SECS,
    region: "ny",
    method: "GET",
    path: input.apiUri,
    host: input.apiHost,
    nonce: input.nonce,
    connection_expiry: now + LIFETIME_SECS,
  };
}

/** Signs the claims with HMAC-SHA256 keyed by the hex-decoded client_secret. */
export async function makeToken(input: TokenInput): Promise<string> {
  const header = base64Url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = base64Url(JSON.stringify(tokenClaims(input)));
  const key = await crypto.subtle.importKey(
    "raw",
    hexToBytes(input.clientSecret.reveal()),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${header}.${payload}`));
  return `${header}.${payload}.${base64Url(new Uint8Array(signature))}`;
}

/** `api_host + api_uri` plus `jwt=<token>`, joined with `&` if the URI has a query. */
export function wsUrl(apiHost: string, apiUri: string, token: string): string {
  const base = apiHost + apiUri;
  const joiner = apiUri.includes("?") ? (/[?&]$/.test(apiUri) ? "" : "&") : "?";
  return `${base}${joiner}jwt=${encodeURIComponent(token)}`;
}

/** base64url without padding, of a string (as UTF-8) or bytes. */
export function base64Url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes an even-length hex string (validated by the configuration). */
export function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** The API URL with a freshly signed token, for one connection attempt. */
/** What the token and its URL are made of (a part of the resolved `[ws_api]` settings). */
export interface TokenSettings {
  clientId: string;
  clientSecret: Secret;
  apiHost: string;
  apiUri: string;
}

export function tokenUrl(settings: TokenSettings, now = Date.now() / 1000): Promise<string> {
  return makeToken({
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    apiHost: settings.apiHost,
    apiUri: settings.apiUri,
    now,
    nonce: crypto.randomUUID(),
  }).then((token) => wsUrl(settings.apiHost, settings.apiUri, token));
}
