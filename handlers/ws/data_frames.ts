/**
 * The relay's data path: the messages themselves are framed and unframed
 * here, next to the API's socket, and never cross Deno's WebSocket client.
 * Deno's client still makes the connection (the upgrade request and its
 * answer), answers the API's pings, and runs the closing handshake: the relay
 * hands it the HTTP head and every control frame, and never a data frame.
 *
 * Why: through Deno's client each message costs an op, a copy into Rust and
 * out of it, an event object and its dispatch, and a hop through the relay's
 * Unix socket, each way; a bridge moves small messages by the thousand a
 * second, and those costs were most of what it spent beyond a plain broker
 * client (docs/performance.md). Here a burst of messages taken from the
 * broker in one read is written to the API in one write, and what the API
 * sends is handed to the bridge straight from the relay's read.
 *
 * RFC 6455 section 5: a client masks every frame with a fresh random key; a
 * server never masks. Anything the reader does not carry itself (a masked or
 * reserved-bit frame, an unknown opcode, a continuation out of place, a
 * message over the size limit) goes to Deno's client unchanged, from that
 * frame to the end of the stream: the client fails the connection as it
 * always did ("Frame too large", a protocol error), and nothing is guessed.
 */

import { FrameHeader, HttpHead } from "./frames.ts";

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** The largest message Deno's client takes (fastwebsockets' default): over it, the connection fails as before. */
export const MAX_MESSAGE_BYTES = 64 << 20;

/** Random mask keys, drawn a pool at a time (one call to the system's generator per 1,024 frames). */
class MaskKeys {
  #pool = new Uint8Array(4096);
  #next = this.#pool.length;

  /** Writes a fresh key into `out` at `at`. */
  put(out: Uint8Array, at: number): void {
    if (this.#next === this.#pool.length) {
      crypto.getRandomValues(this.#pool);
      this.#next = 0;
    }
    out.set(this.#pool.subarray(this.#next, this.#next + 4), at);
    this.#next += 4;
  }
}

/** Masks `out[from, from + length)` in place with the 4-byte key at `out[key]` (RFC 6455 5.3). */
function mask(out: Uint8Array, key: number, from: number, length: number): void {
  const k0 = out[key]!, k1 = out[key + 1]!, k2 = out[key + 2]!, k3 = out[key + 3]!;
  const keys = [k0, k1, k2, k3];
  const end = from + length;
  let i = from;
  // Byte by byte up to a 4-byte boundary of the buffer, then a word at a time with the key turned to match.
  const lead = Math.min(length, (4 - ((out.byteOffset + i) & 3)) & 3);
  for (let j = 0; j < lead; j++, i++) out[i] = out[i]! ^ keys[j & 3]!;
  const words = (end - i) >>> 2;
  if (words > 0) {
    const r = lead & 3;
    // Little-endian: the word's first byte is its lowest (x86_64 and arm64 Linux, the two builds).
    const word =
      (keys[r]! | (keys[(r + 1) & 3]! << 8) | (keys[(r + 2) & 3]! << 16) | (keys[(r + 3) & 3]! << 24)) |
      0;
    const view = new Int32Array(out.buffer, out.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ word;
    i += words * 4;
  }
  for (let j = i - from; i < end; j++, i++) out[i] = out[i]! ^ keys[j & 3]!;
}

/** The smallest buffer take() makes, and the largest one it keeps for the next batch. */
const MIN_BUFFER = 64 * 1024;
const MAX_SPARE = 2 * 1024 * 1024;

/** Frames taken from a DataFrameWriter, to be written in one go. */
export interface Batch {
  bytes: Uint8Array;
  payloadBytes: number;
  frameEnds: number[];
  payloadEnds: number[];
}

/** Client data frames, gathered and then written out together. */
export class DataFrameWriter {
  readonly #keys = new MaskKeys();
  /** A buffer given back by release(), for the next take() to fill (no allocation per batch). */
  #spare: ArrayBuffer | null = null;
  #payloads: Uint8Array[] = [];
  #texts: boolean[] = [];
  #frameBytes = 0;
  #payloadBytes = 0;

  /** Payload bytes gathered and not yet taken. */
  get pendingBytes(): number {
    return this.#payloadBytes;
  }

  /** Adds one message (a single frame: text when `text`). The payload is read at take(), not copied now. */
  add(payload: Uint8Array, text: boolean): void {
    this.#payloads.push(payload);
    this.#texts.push(text);
    const n = payload.length;
    this.#frameBytes += n + (n < 126 ? 6 : n < 65_536 ? 8 : 14);
    this.#payloadBytes += n;
  }

  /**
   * The gathered messages as masked frames in one buffer, and their payload bytes; null when none.
   * `frameEnds[i]` is where frame i ends in `bytes`, `payloadEnds[i]` the payload bytes of frames 0..i,
   * so that a partial write counts the frames it completed. Hand the buffer to release() once written.
   */
  take(): Batch | null {
    if (this.#payloads.length === 0) return null;
    const need = this.#frameBytes;
    const spare = this.#spare;
    let buffer: ArrayBuffer;
    if (spare && spare.byteLength >= need) {
      buffer = spare;
      this.#spare = null;
    } else {
      buffer = new ArrayBuffer(Math.max(need, MIN_BUFFER));
    }
    const out = new Uint8Array(buffer, 0, need);
    const frameEnds: number[] = [];
    const payloadEnds: number[] = [];
    let payloadSoFar = 0;
    let at = 0;
    for (let m = 0; m < this.#payloads.length; m++) {
      const payload = this.#payloads[m]!;
      const n = payload.length;
      out[at++] = 0x80 | (this.#texts[m] ? OP_TEXT : OP_BINARY); // FIN, one frame per message
      if (n < 126) {
        out[at++] = 0x80 | n;
      } else if (n < 65_536) {
        out[at++] = 0x80 | 126;
        out[at++] = n >>> 8;
        out[at++] = n & 0xff;
      } else {
        out[at++] = 0x80 | 127;
        // Messages past 2^32 bytes cannot exist here (the runtime caps buffers far lower).
        out.fill(0, at, at + 4);
        at += 4;
        out[at++] = n >>> 24;
        out[at++] = (n >>> 16) & 0xff;
        out[at++] = (n >>> 8) & 0xff;
        out[at++] = n & 0xff;
      }
      this.#keys.put(out, at);
      out.set(payload, at + 4);
      mask(out, at, at + 4, n);
      at += 4 + n;
      frameEnds.push(at);
      payloadEnds.push(payloadSoFar += n);
    }
    const taken = { bytes: out, payloadBytes: this.#payloadBytes, frameEnds, payloadEnds };
    this.#payloads = [];
    this.#texts = [];
    this.#frameBytes = 0;
    this.#payloadBytes = 0;
    return taken;
  }

  /** Gives back a buffer take() returned, now written: the next take() may fill it again. */
  release(bytes: Uint8Array): void {
    const buffer = bytes.buffer as ArrayBuffer;
    if (buffer.byteLength > MAX_SPARE || (this.#spare && this.#spare.byteLength >= buffer.byteLength)) return;
    this.#spare = buffer;
  }
}

/** A message the API sent: its bytes, and whether it came as text (not checked for UTF-8 here). */
export type OnMessage = (data: Uint8Array, text: boolean) => void;

/**
 * Reads the API's byte stream chunk by chunk: hands each data message to
 * `onMessage`, as soon as its last byte is read, and returns what Deno's
 * client must get instead (the HTTP head, control frames, or everything from
 * a frame it does not carry itself).
 */
export class ServerStreamReader {
  readonly #onMessage: OnMessage;
  readonly #maxMessage: number;
  readonly #head = new HttpHead();
  /** Everything from here on goes to Deno's client as it is. */
  #passThrough = false;
  readonly #header = new FrameHeader();
  /** The frame being read: its payload bytes left, and whether it goes to the client or is carried. */
  #payloadLeft = 0;
  #forwarding = false;
  /** Of a carried frame: where its payload goes. */
  #frame: Uint8Array | null = null;
  #frameAt = 0;
  #frameFin = false;
  /** A message in fragments: its opcode (0 when none is open), the fragments so far and their bytes. */
  #messageOpcode = 0;
  #fragments: Uint8Array[] = [];
  #messageBytes = 0;
  #frames = false;

  constructor(onMessage: OnMessage, maxMessageBytes = MAX_MESSAGE_BYTES) {
    this.#onMessage = onMessage;
    this.#maxMessage = maxMessageBytes;
  }

  /** True once past a 101 answer, in a stream of frames. */
  get inFrames(): boolean {
    return this.#frames;
  }

  /**
   * Reads `chunk`. Data messages completed in it go to `onMessage` now; the
   * result is what Deno's client must be given, in order (views of `chunk`,
   * or small copies of frame headers read across chunks).
   */
  read(chunk: Uint8Array): Uint8Array[] {
    if (this.#passThrough) return [chunk];
    const forward: Uint8Array[] = [];
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#passThrough) {
        forward.push(chunk.subarray(i));
        break;
      }
      if (!this.#head.done) {
        const end = this.#head.skip(chunk, i);
        forward.push(chunk.subarray(i, end));
        i = end;
        if (this.#head.done) {
          if (/^HTTP\/1\.1 101( |$)/.test(this.#head.statusLine)) this.#frames = true;
          else this.#passThrough = true; // not a WebSocket stream: the client reads the refusal itself
        }
      } else if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, n - i);
        if (this.#forwarding) forward.push(chunk.subarray(i, i + take));
        else this.#carry(chunk, i, take);
        this.#payloadLeft -= take;
        i += take;
        if (this.#payloadLeft === 0) this.#frameEnded();
      } else {
        i = this.#readHeader(chunk, i, forward);
      }
    }
    return forward;
  }

  #readHeader(chunk: Uint8Array, from: number, forward: Uint8Array[]): number {
    const h = this.#header;
    const i = h.take(chunk, from);
    if (!h.done) return i;
    const { fin, opcode, plain, length, size } = h;
    // The header's bytes for the client: a view when all of them are in this chunk, else a copy.
    const header = () => (i - from === size ? chunk.subarray(from, i) : h.bytes.slice(0, size));
    h.reset();
    const control = opcode === OP_CLOSE || opcode === OP_PING || opcode === OP_PONG;
    if (control && plain && fin && length <= 125) {
      forward.push(header());
      this.#forwarding = true;
      this.#payloadLeft = length;
      if (length === 0) this.#frameEnded();
      return i;
    }
    const starts = opcode === OP_TEXT || opcode === OP_BINARY;
    const fits = this.#messageBytes + length <= this.#maxMessage;
    const inOrder = starts
      ? this.#messageOpcode === 0
      : opcode === OP_CONTINUATION && this.#messageOpcode !== 0;
    if (!plain || !inOrder || !fits) {
      // Not ours to judge: the client gets it, and all that follows, and fails the connection. A new
      // message inside an unfinished one comes after an empty unfinished fragment, so that the client
      // sees the same fault.
      this.#passThrough = true;
      if (starts && this.#messageOpcode !== 0) forward.push(Uint8Array.of(this.#messageOpcode, 0));
      forward.push(header());
      return i;
    }
    if (starts) this.#messageOpcode = opcode;
    this.#forwarding = false;
    this.#frameFin = fin;
    this.#messageBytes += length;
    this.#payloadLeft = length;
    this.#frame = null;
    this.#frameAt = 0;
    // A whole one-frame message in this chunk is copied out in one go (#carry); otherwise it is gathered.
    if (!(fin && starts && i + length <= chunk.length)) this.#frame = new Uint8Array(length);
    if (length === 0) this.#frameEnded();
    return i;
  }

  #carry(chunk: Uint8Array, at: number, take: number): void {
    if (this.#frame) {
      this.#frame.set(chunk.subarray(at, at + take), this.#frameAt);
      this.#frameAt += take;
    } else {
      this.#frame = chunk.slice(at, at + take);
    }
  }

  #frameEnded(): void {
    if (this.#forwarding) {
      this.#forwarding = false;
      return;
    }
    const frame = this.#frame ?? new Uint8Array(0);
    this.#frame = null;
    if (!this.#frameFin) {
      this.#fragments.push(frame);
      return;
    }
    const text = this.#messageOpcode === OP_TEXT;
    let data = frame;
    if (this.#fragments.length > 0) {
      this.#fragments.push(frame);
      data = new Uint8Array(this.#messageBytes);
      let off = 0;
      for (const part of this.#fragments) {
        data.set(part, off);
        off += part.length;
      }
      this.#fragments = [];
    }
    this.#messageOpcode = 0;
    this.#messageBytes = 0;
    this.#onMessage(data, text);
  }
}
