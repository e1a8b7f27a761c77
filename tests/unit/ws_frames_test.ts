/** The relay's view of the client's byte stream (handlers/ws/frames.ts), byte by byte and chunk by chunk. */
import assert from "node:assert/strict";
import { clientPingFrame, FrameScanner } from "../../handlers/ws/frames.ts";

const OP_TEXT = 1;
const OP_BINARY = 2;

const HEAD = new TextEncoder().encode("GET /ws?jwt=x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");

/** A masked client frame with `opcode` and a payload of `length` bytes. */
function frame(opcode: number, length: number, fin = true): Uint8Array {
  const ext = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + 4 + length);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = 0x80 | (ext === 0 ? length : ext === 2 ? 126 : 127);
  if (ext === 2) new DataView(out.buffer).setUint16(2, length);
  if (ext === 8) new DataView(out.buffer).setBigUint64(2, BigInt(length));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const part of parts) out.set(part, (off += part.length) - part.length);
  return out;
}

Deno.test("FrameScanner counts data payload bytes of completed frames only, past the HTTP head", () => {
  const stream = concat(HEAD, frame(1, 5), frame(9, 4), frame(2, 300), frame(2, 70_000), frame(8, 2));
  const whole = new FrameScanner();
  whole.scan(stream);
  assert.equal(whole.dataBytes, 5 + 300 + 70_000, "text and binary count; ping and close do not");
  assert.ok(whole.atBoundary);
  // The same stream in every split of 1..7 bytes gives the same count at every boundary.
  for (const step of [1, 2, 3, 7]) {
    const scanner = new FrameScanner();
    for (let i = 0; i < stream.length; i += step) scanner.scan(stream.subarray(i, i + step));
    assert.equal(scanner.dataBytes, whole.dataBytes, `chunks of ${step}`);
  }
});

Deno.test("FrameScanner counts a frame only once all of it has gone by, and knows where frames end", () => {
  const scanner = new FrameScanner();
  assert.equal(scanner.atBoundary, false, "still in the HTTP head");
  scanner.scan(HEAD);
  assert.equal(scanner.atBoundary, true);
  const big = frame(2, 1000);
  scanner.scan(big.subarray(0, 500));
  assert.equal(scanner.dataBytes, 0);
  assert.equal(scanner.atBoundary, false);
  scanner.scan(big.subarray(500));
  assert.equal(scanner.dataBytes, 1000);
  assert.equal(scanner.atBoundary, true);
});

Deno.test("FrameScanner counts continuation frames and empty frames", () => {
  const scanner = new FrameScanner();
  scanner.scan(concat(HEAD, frame(1, 10, false), frame(0, 20, false), frame(0, 0), frame(2, 0)));
  assert.equal(scanner.dataBytes, 30);
  assert.ok(scanner.atBoundary);
});

Deno.test("clientPingFrame() is a masked ping whose payload unmasks to what was given", () => {
  const payload = new TextEncoder().encode("mq2wsb1");
  const ping = clientPingFrame(payload);
  assert.equal(ping[0], 0x89);
  assert.equal(ping[1], 0x80 | payload.length);
  const key = ping.subarray(2, 6);
  const unmasked = ping.subarray(6).map((b, i) => b ^ key[i % 4]!);
  assert.deepEqual(unmasked, payload);
  const scanner = new FrameScanner();
  scanner.scan(concat(HEAD, ping));
  assert.equal(scanner.dataBytes, 0, "a ping is not data");
  assert.ok(scanner.atBoundary);
  assert.throws(() => clientPingFrame(new Uint8Array(126)), RangeError);
});

Deno.test("FrameScanner says where the first frame boundary in a chunk is, for the relay's frames to go there", () => {
  const scanner = new FrameScanner();
  assert.equal(scanner.inFrames, false);
  scanner.scan(HEAD.subarray(0, 10));
  assert.equal(scanner.firstBoundary, -1, "inside the head");
  scanner.scan(HEAD.subarray(10));
  assert.equal(scanner.firstBoundary, HEAD.length - 10, "the head's end");
  assert.equal(scanner.inFrames, true);
  const a = frame(OP_BINARY, 10); // 2 + 4 + 10 = 16 bytes
  const b = frame(OP_TEXT, 200); // 2 + 2 + 4 + 200 = 208 bytes
  const stream = concat(a, b, a);
  scanner.scan(stream.subarray(1, 1)); // nothing, at a boundary
  assert.equal(scanner.firstBoundary, 0);
  scanner.scan(stream.subarray(0, 100)); // all of a, part of b
  assert.equal(scanner.firstBoundary, 0, "began between two frames");
  scanner.scan(stream.subarray(100, 150)); // inside b
  assert.equal(scanner.firstBoundary, -1);
  scanner.scan(stream.subarray(150)); // the end of b, then all of a
  assert.equal(scanner.firstBoundary, a.length + b.length - 150, "the end of b, not of a");
  assert.equal(scanner.atBoundary, true);
  assert.equal(scanner.dataBytes, 10 + 200 + 10);
});
