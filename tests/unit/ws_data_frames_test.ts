/**
 * The relay's data path (handlers/ws/data_frames.ts): client frames as the
 * API must receive them (masked, one per message, every length encoding),
 * and the API's stream split into the messages the bridge gets and the bytes
 * Deno's client gets, chunk by chunk in every split.
 */
import assert from "node:assert/strict";
import { DataFrameWriter, ServerStreamReader } from "../../handlers/ws/data_frames.ts";
import { concatBytes as concat, serverFrame } from "../_raw_ws_server.ts";

const OK = new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");

function bytes(n: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

/** Parses masked client frames: opcode, FIN, key and unmasked payload of each. */
function parseClientFrames(stream: Uint8Array) {
  const frames: { opcode: number; fin: boolean; key: Uint8Array; payload: Uint8Array }[] = [];
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  for (let i = 0; i < stream.length;) {
    const fin = (stream[i]! & 0x80) !== 0;
    const opcode = stream[i]! & 0x0f;
    assert.equal(stream[i]! & 0x70, 0, "no reserved bits");
    assert.ok(stream[i + 1]! & 0x80, "a client frame is masked");
    let n = stream[i + 1]! & 0x7f;
    let at = i + 2;
    if (n === 126) [n, at] = [view.getUint16(at), at + 2];
    else if (n === 127) [n, at] = [Number(view.getBigUint64(at)), at + 8];
    const key = stream.slice(at, at + 4);
    const payload = stream.slice(at + 4, at + 4 + n).map((b, j) => b ^ key[j % 4]!);
    frames.push({ opcode, fin, key, payload });
    i = at + 4 + n;
  }
  return frames;
}

Deno.test("DataFrameWriter frames each message as one masked frame, every length encoding, in one buffer", () => {
  const writer = new DataFrameWriter();
  assert.equal(writer.take(), null, "nothing gathered");
  // Payloads at every offset of a shared buffer: the masking must not depend on alignment.
  const shared = bytes(200_000, 5);
  const sizes = [0, 1, 3, 5, 125, 126, 127, 4_099, 65_535, 65_536, 70_001];
  const payloads = sizes.map((n, i) => shared.subarray(i, i + n));
  payloads.forEach((p, i) => writer.add(p, i % 2 === 0));
  assert.equal(writer.pendingBytes, sizes.reduce((a, b) => a + b, 0));
  const taken = writer.take()!;
  assert.equal(taken.payloadBytes, sizes.reduce((a, b) => a + b, 0));
  assert.equal(writer.pendingBytes, 0, "take() empties the writer");
  // Where each frame ends, and the payload bytes up to it: what a partial write counts by.
  const frameLengths = sizes.map((n) => n + (n < 126 ? 6 : n < 65_536 ? 8 : 14));
  assert.deepEqual(
    taken.frameEnds,
    frameLengths.map((_, i) => frameLengths.slice(0, i + 1).reduce((a, b) => a + b)),
  );
  assert.deepEqual(taken.payloadEnds, sizes.map((_, i) => sizes.slice(0, i + 1).reduce((a, b) => a + b)));
  assert.equal(taken.frameEnds.at(-1), taken.bytes.length);
  const frames = parseClientFrames(taken.bytes);
  assert.equal(frames.length, sizes.length);
  frames.forEach((f, i) => {
    assert.equal(f.opcode, i % 2 === 0 ? 1 : 2, `frame ${i}: text or binary as asked`);
    assert.ok(f.fin);
    assert.deepEqual(f.payload, payloads[i], `frame ${i} (${sizes[i]} bytes) unmasks to its payload`);
  });
  const keys = new Set(frames.map((f) => f.key.join(",")));
  assert.ok(keys.size > frames.length - 2, "a fresh mask key per frame");
  assert.notDeepEqual(taken.bytes.subarray(-100), shared.subarray(10 + 70_001 - 100, 10 + 70_001), "masked");
  assert.equal(writer.take(), null);
});

Deno.test("ServerStreamReader hands messages over and gives the client the head and control frames, in any split", () => {
  const ping = serverFrame(9, new TextEncoder().encode("p1"));
  const pong = serverFrame(10, new Uint8Array(0));
  const close = serverFrame(8, new Uint8Array([0x03, 0xe8]));
  const big = bytes(70_000, 3);
  const stream = concat(
    OK,
    serverFrame(1, new TextEncoder().encode("hello")),
    ping,
    serverFrame(2, bytes(300)),
    serverFrame(1, new TextEncoder().encode("frag"), { fin: false }),
    pong, // control frames may come between fragments
    serverFrame(0, new TextEncoder().encode("ment"), { fin: false }),
    serverFrame(0, new TextEncoder().encode("ed")),
    serverFrame(2, new Uint8Array(0)),
    serverFrame(2, big),
    close,
  );
  const expected = [
    ["hello", true],
    [bytes(300), false],
    ["fragmented", true],
    [new Uint8Array(0), false],
    [big, false],
  ];
  for (const step of [1, 2, 3, 7, 64, 1000, stream.length]) {
    const got: [string | Uint8Array, boolean][] = [];
    const reader = new ServerStreamReader((data, text) =>
      got.push([text ? new TextDecoder().decode(data) : data, text])
    );
    const forwarded: Uint8Array[] = [];
    const buffer = new Uint8Array(step); // reused for every chunk, as the relay does
    for (let i = 0; i < stream.length; i += step) {
      const n = Math.min(step, stream.length - i);
      buffer.set(stream.subarray(i, i + n));
      for (const piece of reader.read(buffer.subarray(0, n))) forwarded.push(piece.slice());
    }
    assert.ok(reader.inFrames);
    assert.deepEqual(got, expected, `chunks of ${step}: the messages, in order, their bytes kept`);
    assert.deepEqual(
      concat(...forwarded),
      concat(OK, ping, pong, close),
      `chunks of ${step}: what the client gets`,
    );
  }
});

Deno.test("ServerStreamReader passes on, from its first byte to the end, a frame it does not carry", () => {
  const before = serverFrame(1, new TextEncoder().encode("kept"));
  const after = serverFrame(1, new TextEncoder().encode("after"));
  const cases: [string, Uint8Array][] = [
    ["masked", serverFrame(2, bytes(10), { maskKey: new Uint8Array([1, 2, 3, 4]) })],
    ["a reserved bit", serverFrame(1, bytes(10), { rsv: 4 })],
    ["an unknown opcode", serverFrame(3, bytes(10))],
    ["a continuation with no message open", serverFrame(0, bytes(10))],
    ["a message over the limit", serverFrame(2, bytes(101))],
    ["a control frame over 125 bytes", serverFrame(9, bytes(126))],
    ["a fragmented control frame", serverFrame(9, bytes(2), { fin: false })],
  ];
  for (const [what, odd] of cases) {
    const got: string[] = [];
    const reader = new ServerStreamReader((data) => got.push(new TextDecoder().decode(data)), 100);
    const forwarded = concat(...reader.read(concat(OK, before, odd, after)));
    assert.deepEqual(got, ["kept"], `${what}: what came before is delivered, nothing after`);
    assert.deepEqual(forwarded, concat(OK, odd, after), `${what}: the client gets it and the rest`);
  }
  // A new message inside a fragmented one, and fragments over the limit together.
  const open = serverFrame(1, bytes(60), { fin: false });
  const cut: [Uint8Array, Uint8Array][] = [
    // The client is shown an unfinished message first: it sees the fault, not a message.
    [serverFrame(2, bytes(1)), Uint8Array.of(0x01, 0x00)],
    [serverFrame(0, bytes(60)), new Uint8Array(0)],
  ];
  for (const [odd, shown] of cut) {
    const got: Uint8Array[] = [];
    const reader = new ServerStreamReader((data) => got.push(data), 100);
    const forwarded = concat(...reader.read(concat(OK, open, odd, after)));
    assert.deepEqual(got, []);
    assert.deepEqual(forwarded, concat(OK, shown, odd, after));
  }
});

Deno.test("ServerStreamReader gives every byte to the client when the answer is not 101", () => {
  const got: Uint8Array[] = [];
  const reader = new ServerStreamReader((data) => got.push(data));
  const refusal = new TextEncoder().encode("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n\x81\x00");
  const forwarded = [...reader.read(refusal.subarray(0, 30)), ...reader.read(refusal.subarray(30))];
  assert.deepEqual(concat(...forwarded), refusal);
  assert.deepEqual(got, [], "the body of a refusal is not frames");
  assert.equal(reader.inFrames, false);
});

Deno.test("DataFrameWriter fills a released buffer again, and nothing of what it held shows through", () => {
  const writer = new DataFrameWriter();
  writer.add(bytes(100_000), true);
  const first = writer.take()!;
  writer.add(bytes(10), false); // taken while the first is still being written: a buffer of its own
  const second = writer.take()!;
  assert.ok(second.bytes.buffer !== first.bytes.buffer);
  writer.release(first.bytes);
  new Uint8Array(first.bytes.buffer).fill(0xff); // what an earlier batch left
  const big = bytes(70_001, 9); // a 64-bit length: its high bytes must be written as zeros
  writer.add(big, false);
  const third = writer.take()!;
  assert.ok(third.bytes.buffer === first.bytes.buffer, "the released buffer is used again");
  const frames = parseClientFrames(third.bytes);
  assert.equal(frames.length, 1);
  assert.ok(frames[0]!.payload.every((b, i) => b === big[i]), "the payload, unmasked, is the message");
  assert.equal(frames[0]!.payload.length, big.length);
});
