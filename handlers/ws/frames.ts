/**
 * WebSocket framing as the relay (handlers/ws/relay.ts) sees what Deno's
 * client writes: the upgrade request, then control frames (pongs, the close)
 * and, only if something ever sends through it, data frames. It never
 * decodes payloads. The relay needs to know where frames end, so that a
 * frame of its own (a ping, the bridge's messages: handlers/ws/data_frames.ts)
 * goes between two of the client's, never inside one; and how many payload
 * bytes of data frames have gone by.
 *
 * The stream starts with the HTTP head of the upgrade request, skipped up to
 * its blank line. Frames follow RFC 6455 section 5.2: two header bytes, a 16- or 64-bit
 * extended length, a 4-byte mask key when the mask bit is set (client
 * frames), the payload.
 */

/** Opcodes of data frames (continuation, text, binary); the others are control frames. */
const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_PING = 0x9;

/** Scans what the client writes, chunk by chunk; keeps no bytes of its own. */
export class FrameScanner {
  #inHead = true; // still in the HTTP head
  #crlf = 0; // bytes of the head's closing "\r\n\r\n" matched so far
  #header = new Uint8Array(14);
  #headerHave = 0;
  #headerNeed = 2;
  #payloadLeft = 0;
  #currentIsData = false;
  #currentLength = 0;
  /** Payload bytes of every data frame completed so far. */
  #dataBytes = 0;
  #firstBoundary = -1;

  /** Payload bytes of all data frames that ended within the bytes scanned so far. */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /** True once past the HTTP head, in a stream of frames. */
  get inFrames(): boolean {
    return !this.#inHead;
  }

  /**
   * Where, in the chunk scanned last, its first frame boundary is (0 when it began between two
   * frames, its length when only its end is one); -1 when it has none.
   */
  get firstBoundary(): number {
    return this.#firstBoundary;
  }

  /** True when the bytes scanned so far end exactly between two frames (after the HTTP head). */
  get atBoundary(): boolean {
    return !this.#inHead && this.#headerHave === 0 && this.#payloadLeft === 0;
  }

  /** Scans `chunk`, the next bytes of the stream. */
  scan(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    this.#firstBoundary = this.atBoundary ? 0 : -1;
    const boundary = (at: number) => {
      if (this.#firstBoundary < 0) this.#firstBoundary = at;
    };
    while (i < n) {
      if (this.#inHead) {
        i = this.#skipHead(chunk, i);
        if (!this.#inHead) boundary(i);
      } else if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, n - i);
        this.#payloadLeft -= take;
        i += take;
        if (this.#payloadLeft === 0) {
          this.#frameEnded();
          boundary(i);
        }
      } else {
        i = this.#readHeader(chunk, i);
        if (this.atBoundary) boundary(i); // a frame with no payload
      }
    }
  }

  #skipHead(chunk: Uint8Array, from: number): number {
    for (let i = from; i < chunk.length; i++) {
      const byte = chunk[i]!;
      const want = this.#crlf % 2 === 0 ? 13 : 10; // \r \n \r \n
      if (byte === want) {
        if (++this.#crlf === 4) {
          this.#inHead = false;
          return i + 1;
        }
      } else {
        this.#crlf = byte === 13 ? 1 : 0;
      }
    }
    return chunk.length;
  }

  #readHeader(chunk: Uint8Array, from: number): number {
    let i = from;
    while (i < chunk.length && this.#headerHave < this.#headerNeed) {
      this.#header[this.#headerHave++] = chunk[i++]!;
      if (this.#headerHave === 2) this.#headerNeed = headerLength(this.#header[1]!);
    }
    if (this.#headerHave < this.#headerNeed) return i;
    const h = this.#header;
    const len7 = h[1]! & 0x7f;
    let length = len7;
    if (len7 === 126) length = (h[2]! << 8) | h[3]!;
    else if (len7 === 127) {
      // Payloads past 2^53 cannot exist here (the runtime caps messages far lower).
      length = 0;
      for (let b = 2; b < 10; b++) length = length * 256 + h[b]!;
    }
    const opcode = h[0]! & 0x0f;
    this.#currentIsData = opcode === OP_CONTINUATION || opcode === OP_TEXT || opcode === OP_BINARY;
    this.#currentLength = length;
    this.#headerHave = 0;
    this.#headerNeed = 2;
    this.#payloadLeft = length;
    if (length === 0) this.#frameEnded();
    return i;
  }

  #frameEnded(): void {
    if (this.#currentIsData) this.#dataBytes += this.#currentLength;
  }
}

/** Length of a frame header (with mask key when the mask bit is set), from its second byte. */
function headerLength(second: number): number {
  const len7 = second & 0x7f;
  const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  return 2 + extended + (second & 0x80 ? 4 : 0);
}

/** A masked ping frame, as a client must send it, carrying `payload` (at most 125 bytes). */
export function clientPingFrame(payload: Uint8Array): Uint8Array {
  if (payload.length > 125) throw new RangeError(`A ping payload has at most 125 bytes: ${payload.length}`);
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x80 | OP_PING; // FIN + ping
  frame[1] = 0x80 | payload.length; // masked
  const key = crypto.getRandomValues(new Uint8Array(4));
  frame.set(key, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ key[i % 4]!;
  return frame;
}
