/**
 * CloudWatch Logs' batch rules as pure functions: how big one event may be,
 * and how many buffered events fit in one PutLogEvents call (10,000 events,
 * 1,048,576 bytes counting 26 bytes of overhead per event, all within 24 hours,
 * in chronological order).
 */

/** One buffered log event; `bytes` is its UTF-8 size plus the per-event overhead. */
export interface LogEvent {
  timestamp: number;
  message: string;
  bytes: number;
}

/** PutLogEvents limits, from the CloudWatch Logs API reference. */
export const MAX_BATCH_EVENTS = 10_000;
export const MAX_BATCH_BYTES = 1_048_576;
export const EVENT_OVERHEAD_BYTES = 26;
/** One event may be at most 256 KiB, overhead included. */
export const MAX_EVENT_BYTES = 262_144;
/** A batch may not span more than 24 hours; keep a minute's margin. */
const MAX_BATCH_SPAN_MS = 24 * 3_600_000 - 60_000;
const TRUNCATED = " ...[truncated]";

/** UTF-8 length of a string without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair is one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** An event for `message` at `timestamp`, cut (and marked) if it is larger than CloudWatch accepts. */
export function toEvent(message: string, timestamp: number): LogEvent {
  let bytes = utf8Length(message) + EVENT_OVERHEAD_BYTES;
  if (bytes > MAX_EVENT_BYTES) {
    const room = MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES - TRUNCATED.length;
    const encoded = new TextEncoder().encode(message).subarray(0, room);
    // Decoding drops a character cut in half (it becomes U+FFFD, 3 bytes): trim it.
    const head = new TextDecoder().decode(encoded).replace(/\uFFFD$/, "");
    message = head + TRUNCATED;
    bytes = utf8Length(message) + EVENT_OVERHEAD_BYTES;
  }
  return { timestamp, message, bytes };
}

/** How many events from the front of `events` make one valid batch (at least 1 if any). */
export function batchSize(events: readonly LogEvent[], from = 0): number {
  let count = 0;
  let bytes = 0;
  const first = events[from]?.timestamp ?? 0;
  for (let i = from; i < events.length && count < MAX_BATCH_EVENTS; i++) {
    const event = events[i]!;
    if (bytes + event.bytes > MAX_BATCH_BYTES) break;
    if (event.timestamp - first > MAX_BATCH_SPAN_MS) break;
    bytes += event.bytes;
    count++;
  }
  return count;
}
