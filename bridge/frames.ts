/**
 * Text or binary, for both directions, in one place. A to_ws message goes out
 * as a text frame when its body is valid UTF-8, unless its content type says
 * binary; a WebSocket message is published as text/plain when it came as a
 * text frame, as application/octet-stream when it came as binary, or as a
 * text frame that is not valid UTF-8 (which an API should never send: it is
 * still bridged, as bytes, and its consumer is not told a lie).
 */
import { isUtf8 } from "node:buffer";

/** The content type of binary bodies, both ways. */
export const BINARY = "application/octet-stream";
/** The content type of text bodies published to from_ws. */
export const TEXT = "text/plain";

/** Whether a to_ws body goes out as a text frame. */
export function isText(body: Uint8Array, contentType: string | undefined): boolean {
  return contentType !== BINARY && isUtf8(body);
}

/**
 * The content type a WebSocket message is published with: text for a text frame of valid UTF-8, else
 * binary. A text frame that is not UTF-8 is the one case of `text` with BINARY (the API broke the rule).
 */
export function publishedType(body: Uint8Array, text: boolean): string {
  return text && isUtf8(body) ? TEXT : BINARY;
}
