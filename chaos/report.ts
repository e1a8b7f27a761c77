/**
 * The chaos suite's output: one text row per scenario as it finishes, the
 * verdict, and the files the README cites (`bench/chaos.json`,
 * `bench/chaos.md`). Pure formatting, plus one function that writes files.
 */
import type { ScenarioResult, ScenarioSize } from "./harness.ts";

const COLUMNS = [
  "scenario",
  "mode",
  "faults",
  "sent",
  "received",
  "lost",
  "duplicates",
  "recover ms",
  "verdict",
];
const WIDTHS = [24, 9, 6, 7, 8, 5, 10, 10, 7];

/** The header line of the text table. */
export function headerLine(): string {
  return COLUMNS.map((c, i) => pad(c, WIDTHS[i]!, i > 1 && i < 8)).join(" ");
}

/** One scenario as a text row, followed by its anomalies (if any) on indented lines. */
export function resultLines(r: ScenarioResult): string[] {
  const cells = cellsOf(r);
  const lines = [cells.map((c, i) => pad(c, WIDTHS[i]!, i > 1 && i < 8)).join(" ")];
  for (const detail of details(r)) lines.push(`    ${detail}`);
  return lines;
}

/** "PASS: ..." or "FAIL: ..." for the whole run. */
export function verdictLine(results: ScenarioResult[]): string {
  const failed = results.filter((r) => !r.ok);
  const lost = results.filter((r) => !r.expectsLoss).reduce((n, r) => n + r.lost, 0);
  const caveat = results.filter((r) => r.expectsLoss).reduce((n, r) => n + r.lost, 0);
  const dups = results.reduce((n, r) => n + r.duplicates, 0);
  const sent = results.reduce((n, r) => n + r.sent, 0);
  const head = failed.length === 0 ? "PASS" : `FAIL (${failed.map((r) => r.id).join(", ")})`;
  const expected = caveat > 0 ? ` (plus ${caveat} in the documented-caveat scenario)` : "";
  return `${head}: ${results.length} scenarios, ${sent} messages sent, ${lost} lost${expected}, ${dups} duplicates`;
}

/** The Markdown table for bench/chaos.md. */
export function markdown(results: ScenarioResult[], meta: Record<string, unknown>): string {
  const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const lines = [
    "# Chaos suite results",
    "",
    `Produced by \`deno task chaos\` on ${meta.date} (${meta.load}).`,
    "",
    row(["scenario", ...COLUMNS.slice(1)]),
    row(COLUMNS.map((_, i) => (i > 1 && i < 8 ? "---:" : "---"))),
    ...results.map((r) => row([r.title, ...cellsOf(r).slice(1)])),
    "",
    `${verdictLine(results)}.`,
    "",
    "_sent_: messages the load published to to_ws; _received_: distinct messages back on from_ws; _lost_:",
    "sent, never back; _duplicates_: extra copies (at-least-once); _recover ms_: the longest, over the faults,",
    "from a fault to the first message sent after it coming back (for a pause: from the resume to the next",
    "message back), restarts and reconnects included; _caveat_: the documented WebSocket loss case, measured.",
  ];
  const notes = results.flatMap((r) => details(r).map((d) => `- ${r.id}: ${d}`));
  if (notes.length > 0) lines.push("", "Notes:", "", ...notes);
  return lines.join("\n") + "\n";
}

/** Writes `bench/chaos.json` and `bench/chaos.md` (formatted with deno fmt). */
export async function writeResults(
  dir: string,
  results: ScenarioResult[],
  meta: { size: ScenarioSize; seconds: number } & Record<string, unknown>,
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const json = `${dir}/chaos.json`;
  const md = `${dir}/chaos.md`;
  await Deno.writeTextFile(json, JSON.stringify({ ...meta, results }, null, 2) + "\n");
  await Deno.writeTextFile(md, markdown(results, meta));
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", json, md], stdout: "null", stderr: "null" })
    .output();
  return [json, md];
}

function cellsOf(r: ScenarioResult): string[] {
  return [
    r.id,
    r.mode === "websocket" ? "ws" : "stub",
    String(r.faults.length),
    String(r.sent),
    String(r.received),
    String(r.lost),
    String(r.duplicates),
    r.recoverMs === null ? "never" : String(Math.round(r.recoverMs)),
    r.ok ? (r.lost > 0 ? "caveat" : "ok") : "FAIL",
  ];
}

function details(r: ScenarioResult): string[] {
  const out: string[] = [];
  if (r.error) out.push(`error: ${r.error}`);
  if (r.lost > 0) out.push(`lost ${r.lost}, e.g. #${r.missing.slice(0, 10).join(", #")}`);
  for (const c of r.checks) out.push(`${c.ok ? "ok" : "FAILED"}: ${c.name}: ${c.detail}`);
  if (r.leftInToWs > 0) out.push(`${r.leftInToWs} copies left in to_ws at the end`);
  for (const line of r.bridgeErrors) out.push(`bridge: ${line}`);
  return out;
}

function pad(text: string, width: number, right: boolean): string {
  return right ? text.padStart(width) : text.padEnd(width);
}
