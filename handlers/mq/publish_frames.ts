/**
 * amqplib's basic.publish, encoded in one pass.
 *
 * For each publish amqplib builds a method frame, a header frame and a body
 * frame, each a Node Buffer (an object of its own, zero-filled), copies them
 * into a fourth one, and writes its strings through the runtime's UTF-8
 * encoder; on Deno that encoding was the largest single cost of a bridged
 * message (docs/performance.md). Here the same bytes are written straight
 * into one buffer (AMQP 0-9-1 section 4.2.3, and the basic class's
 * properties in the order of their flag bits), in the same chunks amqplib
 * queues: one for a message whose frames come to less than 2 KiB, else one
 * for the method and header frames and one per body frame. So amqplib's
 * flow control, which counts chunks, and its multiplexer, which takes a
 * chunk at a time from each channel, see what they always saw; amqplib
 * still owns the channel and its confirms.
 *
 * What the fast path does not know it leaves to amqplib, which writes it or
 * throws as it always did: any other method, content that is not a Buffer, a
 * property the bridge never sets (priority, reply-to, timestamp...), a
 * non-empty headers table, a ticket, a `null` where amqplib wants a string,
 * and a string that is not ASCII or is longer than 255 bytes.
 */
import { Buffer } from "node:buffer";
import type { ChannelModel } from "amqplib";

/** amqplib's numbers for basic.publish (class 60, method 40) and the basic class's properties. */
export const BASIC_PUBLISH = 3932200;
export const BASIC_PROPERTIES = 60;

const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_END = 0xce;
/** Frame header (type, channel, size) plus the frame-end octet. */
const FRAME_OVERHEAD = 8;
/** amqplib's SINGLE_CHUNK_THRESHOLD: a message whose frames come to less is queued as one chunk. */
const SINGLE_CHUNK = 2048;
/** amqplib writes a body frame's size as a signed 32-bit number. */
const MAX_BODY_FRAME = 0x7fff_ffff;
/** Different strings kept encoded; past that the cache starts again (a caller with many is not the bridge). */
const MAX_CACHED = 64;

/** basic.publish's fields as amqplib passes them (api_args.js publish). */
export interface PublishFields {
  exchange?: string | null;
  routingKey?: string | null;
  mandatory?: boolean;
  immediate?: boolean;
  ticket?: number | null;
}

/** The basic properties as amqplib passes them; the ones the fast path writes come first. */
export interface PublishProperties {
  contentType?: string | undefined;
  headers?: Record<string, unknown> | undefined;
  deliveryMode?: number | undefined;
  expiration?: string | undefined;
  messageId?: string | undefined;
  contentEncoding?: unknown;
  priority?: unknown;
  correlationId?: unknown;
  replyTo?: unknown;
  timestamp?: unknown;
  type?: unknown;
  userId?: unknown;
  appId?: unknown;
  clusterId?: unknown;
}

/** Encodes publishes; keeps the strings that repeat (queues, content types, the TTL) encoded. */
export class PublishEncoder {
  readonly #cached = new Map<string, Uint8Array>();

  /**
   * The chunks amqplib would queue on `channel` for this publish, byte for
   * byte (bodies split at `frameMax` as amqplib splits them); null when the
   * publish is one the fast path leaves to amqplib.
   */
  encode(
    channel: number,
    fields: PublishFields,
    props: PublishProperties,
    content: Buffer,
    frameMax: number,
  ): Buffer[] | null {
    if (!Buffer.isBuffer(content) || !plainProperties(props) || fields.ticket !== undefined) return null;
    // amqplib defaults only an absent exchange or routing key: a null one is its TypeError.
    const exchange = fields.exchange === undefined ? "" : fields.exchange;
    const routingKey = fields.routingKey === undefined ? "" : fields.routingKey;
    const { contentType, deliveryMode, expiration, messageId } = props;
    const exchangeBytes = this.#ascii(exchange);
    const keyBytes = this.#ascii(routingKey);
    const typeBytes = contentType == null ? null : this.#ascii(contentType);
    const expirationBytes = expiration == null ? null : this.#ascii(expiration);
    if (
      !exchangeBytes || !keyBytes || typeBytes === undefined || expirationBytes === undefined ||
      (messageId != null && !shortAscii(messageId)) ||
      (deliveryMode != null && !(Number.isInteger(deliveryMode) && deliveryMode >= 0 && deliveryMode < 256))
    ) return null;

    const methodSize = 9 + exchangeBytes.length + keyBytes.length;
    const hasHeaders = props.headers != null;
    const propsSize = (typeBytes ? 1 + typeBytes.length : 0) + (hasHeaders ? 4 : 0) +
      (deliveryMode != null ? 1 : 0) + (expirationBytes ? 1 + expirationBytes.length : 0) +
      (messageId != null ? 1 + messageId.length : 0);
    const headerSize = 14 + propsSize;
    const headLength = methodSize + headerSize + 2 * FRAME_OVERHEAD;
    const single = headLength + (content.length > 0 ? content.length + FRAME_OVERHEAD : 0) < SINGLE_CHUNK;
    const maxBody = frameMax - FRAME_OVERHEAD;
    // amqplib splits the body (and says why it cannot) only for a message of more than one chunk.
    if (!single && !(maxBody > 0 && Math.min(maxBody, content.length) <= MAX_BODY_FRAME)) return null;

    const head = Buffer.allocUnsafe(
      single && content.length > 0 ? headLength + content.length + FRAME_OVERHEAD : headLength,
    );
    let at = frameStart(head, 0, FRAME_METHOD, channel, methodSize);
    at = u32(head, at, BASIC_PUBLISH);
    at = u16(head, at, 0); // ticket
    at = shortBytes(head, at, exchangeBytes);
    at = shortBytes(head, at, keyBytes);
    head[at++] = (fields.mandatory ? 1 : 0) | (fields.immediate ? 2 : 0);
    head[at++] = FRAME_END;

    at = frameStart(head, at, FRAME_HEADER, channel, headerSize);
    at = u16(head, at, BASIC_PROPERTIES);
    at = u16(head, at, 0); // weight
    at = u32(head, at, Math.floor(content.length / 0x1_0000_0000));
    at = u32(head, at, content.length >>> 0);
    let flags = 0;
    const flagsAt = at;
    at += 2;
    if (typeBytes) {
      flags |= 0x8000;
      at = shortBytes(head, at, typeBytes);
    }
    if (hasHeaders) {
      flags |= 0x2000;
      at = u32(head, at, 0); // an empty table
    }
    if (deliveryMode != null) {
      flags |= 0x1000;
      head[at++] = deliveryMode;
    }
    if (expirationBytes) {
      flags |= 0x0100;
      at = shortBytes(head, at, expirationBytes);
    }
    if (messageId != null) {
      flags |= 0x0080;
      head[at++] = messageId.length;
      for (let i = 0; i < messageId.length; i++) head[at++] = messageId.charCodeAt(i);
    }
    u16(head, flagsAt, flags);
    head[at++] = FRAME_END;

    if (single) {
      if (content.length > 0) bodyFrame(head, at, channel, content);
      return [head];
    }
    const chunks = [head];
    for (let from = 0; from < content.length; from += maxBody) {
      const part = content.subarray(from, Math.min(from + maxBody, content.length));
      const frame = Buffer.allocUnsafe(part.length + FRAME_OVERHEAD);
      bodyFrame(frame, 0, channel, part);
      chunks.push(frame);
    }
    return chunks;
  }

  /** `s` as bytes, kept once seen; undefined when it is not a short ASCII string. */
  #ascii(s: unknown): Uint8Array | undefined {
    if (typeof s !== "string") return undefined;
    let bytes = this.#cached.get(s);
    if (bytes) return bytes;
    if (!shortAscii(s)) return undefined;
    bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    if (this.#cached.size >= MAX_CACHED) this.#cached.clear();
    this.#cached.set(s, bytes);
    return bytes;
  }
}

/**
 * Makes `conn` encode its publishes with a PublishEncoder of its own (and
 * hand amqplib the rest); false, and nothing changed, if amqplib's
 * connection is not what this was written against.
 */
export function fastPublishFrames(conn: ChannelModel): boolean {
  // Not in amqplib's types: its Connection (lib/connection.js), where each channel's frames are queued.
  type SendMessage = (
    channel: number,
    method: number,
    fields: PublishFields,
    propsId: number,
    props: PublishProperties,
    content: Buffer,
  ) => boolean;
  const connection = conn.connection as unknown as {
    sendMessage?: SendMessage;
    channels?: ({ buffer?: { write(chunk: Buffer): boolean } } | null)[];
    frameMax?: number;
    sentSinceLastCheck?: boolean;
  };
  const original = connection.sendMessage;
  if (typeof original !== "function" || !Array.isArray(connection.channels)) return false;
  const encoder = new PublishEncoder();
  connection.sendMessage = function (channel, method, fields, propsId, props, content) {
    const queue = connection.channels?.[channel]?.buffer;
    if (method === BASIC_PUBLISH && propsId === BASIC_PROPERTIES && queue) {
      const chunks = encoder.encode(channel, fields, props, content, connection.frameMax ?? 0);
      if (chunks) {
        connection.sentSinceLastCheck = true; // as amqplib does: the heartbeat sees traffic
        let ok = true;
        for (const chunk of chunks) ok = queue.write(chunk); // amqplib answers with the last write's
        return ok;
      }
    }
    return original.call(this, channel, method, fields, propsId, props, content);
  };
  return true;
}

/** Only the properties the fast path writes, and an empty headers table at most. */
function plainProperties(p: PublishProperties): boolean {
  if (
    p.contentEncoding != null || p.priority != null || p.correlationId != null || p.replyTo != null ||
    p.timestamp != null || p.type != null || p.userId != null || p.appId != null || p.clusterId != null
  ) return false;
  const headers = p.headers;
  if (headers == null) return true;
  if (typeof headers !== "object") return false;
  // amqplib writes every key for...in finds (its own and inherited) whose value is defined.
  for (const key in headers) if (headers[key] !== undefined) return false;
  return true;
}

/** An ASCII string of at most 255 characters (so as many bytes). */
function shortAscii(s: unknown): s is string {
  if (typeof s !== "string" || s.length > 255) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** One body frame holding `part`, at `at`. */
function bodyFrame(out: Uint8Array, at: number, channel: number, part: Uint8Array): void {
  at = frameStart(out, at, FRAME_BODY, channel, part.length);
  out.set(part, at);
  out[at + part.length] = FRAME_END;
}

function frameStart(out: Uint8Array, at: number, type: number, channel: number, size: number): number {
  out[at] = type;
  u16(out, at + 1, channel);
  return u32(out, at + 3, size);
}

function u16(out: Uint8Array, at: number, v: number): number {
  out[at] = (v >>> 8) & 0xff;
  out[at + 1] = v & 0xff;
  return at + 2;
}

function u32(out: Uint8Array, at: number, v: number): number {
  out[at] = (v >>> 24) & 0xff;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
  return at + 4;
}

/** A short string already encoded: its length octet, then its bytes. */
function shortBytes(out: Uint8Array, at: number, bytes: Uint8Array): number {
  out[at] = bytes.length;
  out.set(bytes, at + 1);
  return at + 1 + bytes.length;
}
