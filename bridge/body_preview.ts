/**
 * What `-d` shows of a message body: its first 200 bytes, as text when it is
 * a text message (the log line's quoting escapes control characters), as
 * hex when it is binary. Secrets registered with the redactor are still
 * scrubbed from the line; bodies themselves are the operator's data.
 */

/** Bytes of a body shown in a DEBUG line. */
export const PREVIEW_BYTES = 200;

const TEXT = new TextDecoder("utf-8", { fatal: false });

/** The first PREVIEW_BYTES of `body`: decoded text, or `hex:...` for binary; `…` marks a cut. */
export function bodyPreview(body: Uint8Array, text: boolean): string {
  const head = body.subarray(0, PREVIEW_BYTES);
  const more = body.length > PREVIEW_BYTES ? "…" : "";
  if (text) return TEXT.decode(head) + more;
  let hex = "hex:";
  for (const byte of head) hex += byte.toString(16).padStart(2, "0");
  return hex + more;
}
