/** Text formatting shared by bridgetester's views and summary: times, durations, rates, bodies. */

/** `HH:MM:SS.mmm`, local time. */
export function formatClock(wallMs: number): string {
  const d = new Date(wallMs);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** A latency: `0.84 ms`, `12.3 ms`, `1.234 s`; `-` when not a number. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms >= 1000) return `${(ms / 1000).toFixed(3)} s`;
  return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
}

/** A latency number without its unit (for `ms`-labelled lists). */
export function formatMsValue(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

/** A rate in messages per second, whole numbers. */
export function formatRate(perSec: number): string {
  return Number.isFinite(perSec) ? `${Math.round(perSec)}/s` : "-";
}

/** A received body made safe for one terminal line: control characters escaped, at most `max` chars. */
export function printableBody(body: string, max = 80): string {
  // Escape sequences in a stranger's message must not reach the terminal.
  // deno-lint-ignore no-control-regex
  const control = /[\x00-\x1f\x7f-\x9f]/g;
  const safe = body.replace(control, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe;
}

/** `text` cut or padded to exactly `width` characters. */
export function fit(text: string, width: number): string {
  if (width <= 0) return "";
  return text.length > width ? text.slice(0, width) : text.padEnd(width);
}
