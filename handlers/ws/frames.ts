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

/** The HTTP head at the start of a stream, skipped up to its blank line; a response's status line kept. */
export class HttpHead {
  #crlf = 0; // bytes of the head's closing "\r\n\r\n" matched so far
  #firstLine = true;
  /** The head's first line (its first 64 characters). */
  statusLine = "";
  /** True once the blank line has gone by. */
  done = false;

  /** Takes head bytes from `chunk` at `from`; returns where the frames start, or the chunk's length. */
  skip(chunk: Uint8Array, from: number): number {
    for (let i = from; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (this.#firstLine) {
        if (byte === 13) this.#firstLine = false;
        else if (this.statusLine.length < 64) this.statusLine += String.fromCharCode(byte);
      }
      const want = this.#crlf % 2 === 0 ? 13 : 10; // \r \n \r \n
      if (byte === want) {
        if (++this.#crlf === 4) {
          this.done = true;
          return i + 1;
        }
      } else {
        this.#crlf = byte === 13 ? 1 : 0;
      }
    }
    return chunk.length;
  }
}

/** One frame header (RFC 6455 5.2), which may come split across chunks. */
export class FrameHeader {
  /** Its bytes, `size` of them once `done`. */
  readonly bytes = new Uint8Array(14);
  #have = 0;
  #need = 2;

  /** Takes header bytes from `chunk` at `from`; returns where it stopped. */
  take(chunk: Uint8Array, from: number): number {
    let i = from;
    while (i < chunk.length && this.#have < this.#need) {
      this.bytes[this.#have++] = chunk[i++]!;
      if (this.#have === 2) this.#need = headerLength(this.bytes[1]!);
    }
    return i;
  }

  /** True once all of the header is in. */
  get done(): boolean {
    return this.#have === this.#need;
  }

  /** True while part of a header is in (so the stream is not between two frames). */
  get started(): boolean {
    return this.#have > 0;
  }

  /** Header bytes, with the extended length and the mask key. */
  get size(): number {
    return this.#have;
  }

  get fin(): boolean {
    return (this.bytes[0]! & 0x80) !== 0;
  }

  get opcode(): number {
    return this.bytes[0]! & 0x0f;
  }

  /** Neither a reserved bit nor the mask bit set (what a server must send). */
  get plain(): boolean {
    return (this.bytes[0]! & 0x70) === 0 && (this.bytes[1]! & 0x80) === 0;
  }

  /** The payload's length. */
  get length(): number {
    const h = this.bytes;
    const len7 = h[1]! & 0x7f;
    if (len7 === 126) return (h[2]! << 8) | h[3]!;
    if (len7 < 126) return len7;
    // Payloads past 2^53 cannot exist here (the runtime caps messages far lower).
    let length = 0;
    for (let b = 2; b < 10; b++) length = length * 256 + h[b]!;
    return length;
  }

  /** Ready for the next header. */
  reset(): void {
    this.#have = 0;
    this.#need = 2;
  }
}

/** Whether `opcode` is a data frame's (continuation, text, binary). */
export function isDataOpcode(opcode: number): boolean {
  return opcode === OP_CONTINUATION || opcode === OP_TEXT || opcode === OP_BINARY;
}

/** Scans what the client writes, chunk by chunk; keeps no bytes of its own. */
export class FrameScanner {
  readonly #head = new HttpHead();
  readonly #header = new FrameHeader();
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
    return this.#head.done;
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
    return this.#head.done && !this.#header.started && this.#payloadLeft === 0;
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
      if (!this.#head.done) {
        i = this.#head.skip(chunk, i);
        if (this.#head.done) boundary(i);
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

  #readHeader(chunk: Uint8Array, from: number): number {
    const header = this.#header;
    const i = header.take(chunk, from);
    if (!header.done) return i;
    const length = header.length;
    this.#currentIsData = isDataOpcode(header.opcode);
    this.#currentLength = length;
    header.reset();
    this.#payloadLeft = length;
    if (length === 0) this.#frameEnded();
    return i;
  }

  #frameEnded(): void {
    if (this.#currentIsData) this.#dataBytes += this.#currentLength;
  }
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

/** Length of a frame header (with mask key when the mask bit is set), from its second byte. */
function headerLength(second: number): number {
  const len7 = second & 0x7f;
  const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  return 2 + extended + (second & 0x80 ? 4 : 0);
}
