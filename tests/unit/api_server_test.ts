/**
 * The chaos suite's API stand-in (tools/api_server.ts), run as the process
 * the suite runs (chaos/api_process.ts), with a real WebSocket client on
 * loopback playing the bridge: it counts what it receives by numbered body,
 * echoes, and sends its own numbered messages, going on after a dropped
 * connection with the next unsent index.
 */
import assert from "node:assert/strict";
import { ApiProcess } from "../../chaos/api_process.ts";
import { withDeadline } from "../_ws_server.ts";

/** A client socket that collects what it receives; `until` awaits a count. */
async function openClient(url: string) {
  const socket = new WebSocket(`${url}/bridge`);
  const got: string[] = [];
  let waiter: { n: number; resolve: () => void } | null = null;
  socket.onmessage = (e) => {
    got.push(String(e.data));
    if (waiter && got.length >= waiter.n) waiter.resolve();
  };
  const closed = new Promise((resolve) => socket.onclose = resolve);
  await withDeadline(new Promise((resolve) => socket.onopen = resolve), 5_000, "the socket opening");
  return {
    socket,
    got,
    until(n: number): Promise<void> {
      if (got.length >= n) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiter = { n, resolve };
      return withDeadline(promise, 10_000, `${n} messages from the API stand-in`);
    },
    async close() {
      socket.close();
      await closed;
    },
  };
}

Deno.test("api_server counts received messages by prefix and echoes them with --echo", async () => {
  await using api = await ApiProcess.start({ echo: true });
  const client = await openClient(api.url);
  for (const i of [1, 2, 2, 4]) client.socket.send(`load x #${i} ....`);
  client.socket.send("not numbered");
  await client.until(5);
  assert.deepEqual(client.got.slice(0, 4), [
    "load x #1 ....",
    "load x #2 ....",
    "load x #2 ....",
    "load x #4 ....",
  ]);
  const received = await api.received("load x #", 4);
  assert.deepEqual(
    [received.distinct, received.duplicates, received.missing, received.missingCount],
    [3, 1, [3], 1],
  );
  assert.equal((await api.status()).received.foreign, 1);
  await client.close();
});

Deno.test("api_server sends its own numbered messages and resumes on the next connection without re-sending", async () => {
  await using api = await ApiProcess.start({ echo: false });
  const first = await openClient(api.url);
  await api.send({ prefix: "api y #", count: 60, bytes: 20, rate: 200 });
  await first.until(10);
  await first.close();
  const sentBefore = (await api.status()).sender!.next - 1;
  const second = await openClient(api.url);
  await api.wait("sent", 60, 10_000);
  await second.until(60 - sentBefore);
  const indices = [...first.got, ...second.got].map((body) => Number(/#(\d+) /.exec(body)![1]));
  assert.deepEqual(indices, Array.from({ length: 60 }, (_, i) => i + 1), "each index once, in order");
  assert.equal(first.got[0], "api y #1 ...........", "20 bytes, padded with dots");
  const sent = await api.sent(true);
  assert.equal(sent!.sent, 60);
  assert.ok(sent!.sentAt!.slice(1).every((t) => typeof t === "number"));
  await second.close();
});

Deno.test("api_server sends a burst back to back, bounded by what the socket holds", async () => {
  await using api = await ApiProcess.start({ echo: false });
  const client = await openClient(api.url);
  await api.send({ prefix: "api z #", count: 20_000, bytes: 100, rate: 0 });
  await client.until(20_000);
  assert.equal(new Set(client.got).size, 20_000);
  await client.close();
});
