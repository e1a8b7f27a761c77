/**
 * amqplib's basic.publish, encoded in one pass into one buffer.
 *
 * For each publish amqplib builds a method frame, a header frame, a body
 * frame and then a fourth buffer that holds the three, each a Node Buffer
 * (an object of its own, zero-filled for the first three), and writes its
 * strings through the runtime's UTF-8 encoder; on Deno that encoding was the
 * largest single cost of a bridged message (docs/performance.md). Here the
 * same bytes are written straight into one buffer: the frames of AMQP 0-9-1
 * (section 4.2.3 and the basic class's properties in the order of their flag
 * bits), nothing else changed. amqplib still owns the channel, its flow
 * control and its confirms: only the encoding of the frames is replaced.
 *
 * What the fast path does not know it leaves to amqplib: any other method,
 * a property the bridge never sets (priority, reply-to, timestamp...), a
 * non-empty headers table, or a string that is not ASCII.
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

/** basic.publish's fields as amqplib passes them (api_args.js publish). */
export interface PublishFields {
  exchange?: string;
  routingKey?: string;
  mandatory?: boolean;
  immediate?: boolean;
  ticket?: number;
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

/**
 * The method, header and body frames of one publish on `channel`, in one
 * buffer, byte for byte what amqplib would write (bodies split at
 * `frameMax`); null when the publish is one the fast path leaves to amqplib.
 */
export function encodePublish(
  channel: number,
  fields: PublishFields,
  props: PublishProperties,
  content: Uint8Array,
  frameMax: number,
): Buffer | null {
  if (!plainProperties(props)) return null;
  const exchange = fields.exchange ?? "";
  const routingKey = fields.routingKey ?? "";
  const { contentType, deliveryMode, expiration, messageId } = props;
  // The queue, the content type and the expiration repeat from one publish to the next: encoded once.
  const exchangeBytes = repeated(exchange);
  const keyBytes = repeated(routingKey);
  const typeBytes = contentType == null ? null : repeated(contentType);
  const expirationBytes = expiration == null ? null : repeated(expiration);
  if (
    !exchangeBytes || !keyBytes || (fields.ticket ?? 0) !== 0 || typeBytes === undefined ||
    expirationBytes === undefined || (messageId != null && !shortAscii(messageId)) ||
    (deliveryMode != null && !(Number.isInteger(deliveryMode) && deliveryMode >= 0 && deliveryMode < 256))
  ) return null;
  const maxBody = frameMax - FRAME_OVERHEAD;
  if (!(maxBody > 0)) return null; // amqplib says why it cannot send

  const methodSize = 9 + exchange.length + routingKey.length;
  const headers = props.headers != null;
  const propsSize = (contentType != null ? 1 + contentType.length : 0) + (headers ? 4 : 0) +
    (deliveryMode != null ? 1 : 0) + (expiration != null ? 1 + expiration.length : 0) +
    (messageId != null ? 1 + messageId.length : 0);
  const headerSize = 14 + propsSize;
  const bodyFrames = Math.ceil(content.length / maxBody);
  const total = methodSize + headerSize + 2 * FRAME_OVERHEAD + content.length + bodyFrames * FRAME_OVERHEAD;
  const out = Buffer.allocUnsafe(total); // every byte is written below

  let at = frameStart(out, 0, FRAME_METHOD, channel, methodSize);
  at = u32(out, at, BASIC_PUBLISH);
  at = u16(out, at, 0); // ticket
  at = shortBytes(out, at, exchangeBytes);
  at = shortBytes(out, at, keyBytes);
  out[at++] = (fields.mandatory ? 1 : 0) | (fields.immediate ? 2 : 0);
  out[at++] = FRAME_END;

  at = frameStart(out, at, FRAME_HEADER, channel, headerSize);
  at = u16(out, at, BASIC_PROPERTIES);
  at = u16(out, at, 0); // weight
  at = u32(out, at, Math.floor(content.length / 0x1_0000_0000));
  at = u32(out, at, content.length >>> 0);
  let flags = 0;
  const flagsAt = at;
  at += 2;
  if (contentType != null) {
    flags |= 0x8000;
    at = shortBytes(out, at, typeBytes!);
  }
  if (headers) {
    flags |= 0x2000;
    at = u32(out, at, 0); // an empty table
  }
  if (deliveryMode != null) {
    flags |= 0x1000;
    out[at++] = deliveryMode;
  }
  if (expiration != null) {
    flags |= 0x0100;
    at = shortBytes(out, at, expirationBytes!);
  }
  if (messageId != null) {
    flags |= 0x0080;
    at = shortString(out, at, messageId);
  }
  u16(out, flagsAt, flags);
  out[at++] = FRAME_END;

  for (let from = 0; from < content.length; from += maxBody) {
    const part = content.subarray(from, Math.min(from + maxBody, content.length));
    at = frameStart(out, at, FRAME_BODY, channel, part.length);
    out.set(part, at);
    at += part.length;
    out[at++] = FRAME_END;
  }
  return out;
}

/**
 * Makes `conn` encode its publishes with encodePublish (and hand amqplib
 * the rest); false, and nothing changed, if amqplib's connection is not what
 * this was written against.
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
    channels?: { buffer?: { write(frames: Buffer): boolean } }[];
    frameMax?: number;
    sentSinceLastCheck?: boolean;
  };
  const original = connection.sendMessage;
  if (typeof original !== "function" || !Array.isArray(connection.channels)) return false;
  connection.sendMessage = function (channel, method, fields, propsId, props, content) {
    const queue = connection.channels?.[channel]?.buffer;
    if (method === BASIC_PUBLISH && propsId === BASIC_PROPERTIES && queue && Buffer.isBuffer(content)) {
      const frames = encodePublish(channel, fields, props, content, connection.frameMax ?? 0);
      if (frames) {
        connection.sentSinceLastCheck = true; // as amqplib does: the heartbeat sees traffic
        return queue.write(frames);
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

/** Strings seen before, as bytes: few are ever different (the queues, content types, the TTL). */
const encoded = new Map<string, Uint8Array>();
const MAX_ENCODED = 64;

/** `s` as bytes, from the cache once seen; undefined when it is not a short ASCII string. */
function repeated(s: unknown): Uint8Array | undefined {
  if (typeof s !== "string") return undefined;
  let bytes = encoded.get(s);
  if (bytes) return bytes;
  if (!shortAscii(s)) return undefined;
  bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  if (encoded.size >= MAX_ENCODED) encoded.clear(); // a caller with many different strings: start again
  encoded.set(s, bytes);
  return bytes;
}

/** An ASCII string of at most 255 characters (so as many bytes). */
function shortAscii(s: unknown): s is string {
  if (typeof s !== "string" || s.length > 255) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
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

/** An ASCII short string: its length octet, then its characters. */
function shortString(out: Uint8Array, at: number, s: string): number {
  out[at++] = s.length;
  for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
  return at;
}
