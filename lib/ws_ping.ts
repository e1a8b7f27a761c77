/**
 * Deno runtime adapter: WebSocket ping frames from a client socket.
 *
 * Deno's WebSocket has no API to send a ping. Its implementation does have
 * the idle-timeout routine that `Deno.upgradeWebSocket({ idleTimeout })`
 * uses on server sockets: after idleTimeout/2 seconds without a received
 * frame it sends a ping, and if nothing (not even the pong) arrives within
 * another idleTimeout/2 it closes the socket with 1001 "No response from ping
 * frame." Every received frame re-arms it. This file switches that routine
 * on for a client socket, through the runtime's internal symbols, found by
 * their descriptions. Deno is pinned (deno.json, compiled binaries embed the
 * runtime) and tests/ws_test.ts proves real ping frames go out; if a future
 * runtime lacks the symbols, `enableClientPings` returns false and the
 * caller says so in the log.
 */

const IDLE_TIMEOUT = "[[idleTimeout]]";
const ARM_IDLE_TIMEOUT = "[[serverHandleIdleTimeout]]";

/**
 * Makes an open client socket ping after `intervalSecs` of silence and close
 * itself when a further `intervalSecs` pass without any frame. Returns false
 * when this runtime offers no way to do it.
 */
export function enableClientPings(ws: WebSocket, intervalSecs: number): boolean {
  const idle = Object.getOwnPropertySymbols(ws).find((s) => s.description === IDLE_TIMEOUT);
  const arm = Object.getOwnPropertySymbols(WebSocket.prototype).find((s) =>
    s.description === ARM_IDLE_TIMEOUT
  );
  const internals = ws as unknown as Record<symbol, unknown>;
  const start = arm === undefined ? undefined : internals[arm];
  if (idle === undefined || typeof start !== "function") return false;
  internals[idle] = intervalSecs * 2;
  start.call(ws);
  return true;
}
