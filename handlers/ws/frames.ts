/**
 * WebSocket framing as the relay (handlers/ws/relay.ts) sees the two byte
 * streams. It never decodes payloads. It needs to know where frames end and
 * how many payload bytes of data frames have gone by (so that it can say
 * which messages are written out to the TCP socket, and where a ping frame of
 * its own may go between two frames), and where each message starts, so
 * that it can rewrite the message's opcode between text and binary.
 *
 * Why rewrite: the bridge hands Deno's WebSocket every message as bytes and
 * Deno hands every message back as bytes, so no message is decoded into a
 * JavaScript string and encoded again on the way (two transcodings per
 * message each way). The relay puts the right opcode on the wire and tells
 * the bridge which incoming messages were text; the bridge checks UTF-8
 * itself (`isUtf8`, no string made).
 *
 * Each stream starts with an HTTP head (the upgrade request, or the
 * response), skipped up to its blank line; a response other than 101 ends
 * the scanning (nothing after it is a frame). Frames follow RFC 6455
 * section 5.2: two header bytes, a 16- or 64-bit extended length, a 4-byte
 * mask key when the mask bit is set (client frames), the payload.
 */

/** Opcodes of data frames (continuation, text, binary); the others are control frames. */
const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
const OP_PING = 0x9;

/**
 * Called at the first header byte of each message (a text or binary frame,
 * not a continuation), which is `chunk[at]`: the callback may rewrite its
 * opcode in place before the chunk is passed on.
 */
export type MessageStart = (opcode: number, chunk: Uint8Array, at: number) => void;

/** Scans one direction chunk by chunk; keeps no bytes of its own. */
export class FrameScanner {
  readonly #onMessage: MessageStart | null;
  readonly #head: "request" | "response";
  #inHead = true; // still in the HTTP head
  #crlf = 0; // bytes of the head's closing "\r\n\r\n" matched so far
  #statusLine = ""; // a response's first line
  #firstLine = true; // still in the first line of the head
  #off = false; // not a WebSocket stream after all (a response other than 101)
  #header = new Uint8Array(14);
  #headerHave = 0;
  #headerNeed = 2;
  #payloadLeft = 0;
  #currentIsData = false;
  #currentLength = 0;
  /** Payload bytes of every data frame completed so far. */
  #dataBytes = 0;
  #lastBoundary = -1;

  constructor(head: "request" | "response", onMessage: MessageStart | null = null) {
    this.#head = head;
    this.#onMessage = onMessage;
  }

  /** Payload bytes of all data frames that ended within the bytes scanned so far. */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /** True once past the HTTP head, in a stream of frames (for a response: it was 101). */
  get inFrames(): boolean {
    return !this.#inHead && !this.#off;
  }

  /**
   * Where, in the chunk scanned last, its last frame boundary is (0 when it began between two
   * frames, its length when it ended between two); -1 when it has none.
   */
  get lastBoundary(): number {
    return this.#lastBoundary;
  }

  /** True when the bytes scanned so far end exactly between two frames (after the HTTP head). */
  get atBoundary(): boolean {
    return !this.#inHead && !this.#off && this.#headerHave === 0 && this.#payloadLeft === 0;
  }

  /** Scans `chunk`, the next bytes of the stream (and lets the callback rewrite message opcodes in it). */
  scan(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    this.#lastBoundary = this.atBoundary ? 0 : -1;
    while (i < n && !this.#off) {
      if (this.#inHead) {
        i = this.#skipHead(chunk, i);
        if (!this.#inHead) this.#lastBoundary = i;
      } else if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, n - i);
        this.#payloadLeft -= take;
        i += take;
        if (this.#payloadLeft === 0) {
          this.#frameEnded();
          this.#lastBoundary = i;
        }
      } else {
        i = this.#readHeader(chunk, i);
        if (this.atBoundary) this.#lastBoundary = i; // a frame with no payload
      }
    }
  }

  #skipHead(chunk: Uint8Array, from: number): number {
    for (let i = from; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (this.#firstLine) {
        if (byte === 13) this.#firstLine = false;
        else if (this.#statusLine.length < 64) this.#statusLine += String.fromCharCode(byte);
      }
      const want = this.#crlf % 2 === 0 ? 13 : 10; // \r \n \r \n
      if (byte === want) {
        if (++this.#crlf === 4) {
          this.#inHead = false;
          if (this.#head === "response" && !/^HTTP\/1\.1 101( |$)/.test(this.#statusLine)) this.#off = true;
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
    if (this.#headerHave === 0 && this.#onMessage) {
      const opcode = chunk[i]! & 0x0f;
      if (opcode === OP_TEXT || opcode === OP_BINARY) this.#onMessage(opcode, chunk, i);
    }
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

/** Sets the opcode of the frame whose first byte is `chunk[at]`, keeping its FIN and RSV bits. */
export function setOpcode(chunk: Uint8Array, at: number, opcode: number): void {
  chunk[at] = (chunk[at]! & 0xf0) | opcode;
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
