/**
 * The chaos suite's output: text rows per scenario as it finishes (one per
 * direction it counted), the verdict, and the files docs/performance.md cites
 * (`bench/chaos.json`, `bench/chaos.md`). Pure formatting, plus one
 * function that writes files.
 */
import { eachMessageOnce } from "./directions.ts";
import type { DirectionResult, ScenarioResult, ScenarioSize } from "./harness.ts";

const COLUMNS = [
  "scenario",
  "mode",
  "direction",
  "faults",
  "sent",
  "received",
  "lost",
  "duplicates",
  "recover ms",
  "verdict",
];
const WIDTHS = [24, 4, 10, 6, 7, 8, 5, 10, 10, 7];
/** Columns aligned right: the numbers. */
const NUMERIC = (i: number) => i > 2 && i < 9;

/** The header line of the text table. */
export function headerLine(): string {
  return COLUMNS.map((c, i) => pad(c, WIDTHS[i]!, NUMERIC(i))).join(" ");
}

/** One scenario as text rows (one per direction), followed by its anomalies on indented lines. */
export function resultLines(r: ScenarioResult): string[] {
  const lines = rowsOf(r).map((cells) => cells.map((c, i) => pad(c, WIDTHS[i]!, NUMERIC(i))).join(" "));
  for (const detail of details(r)) lines.push(`    ${detail}`);
  lines.push(`    (${r.seconds} s)`);
  return lines;
}

/** "PASS: ..." or "FAIL: ..." for the whole run. */
export function verdictLine(results: ScenarioResult[]): string {
  const failed = results.filter((r) => !r.ok);
  const all = results.flatMap((r) => eachMessageOnce(r.directions));
  const lost = all.filter((d) => !d.expectsLoss).reduce((n, d) => n + d.lost, 0);
  const caveat = all.filter((d) => d.expectsLoss).reduce((n, d) => n + d.lost, 0);
  const dups = results.reduce((n, r) => n + r.duplicates, 0);
  const sent = results.reduce((n, r) => n + r.sent, 0);
  const head = failed.length === 0 ? "PASS" : `FAIL (${failed.map((r) => r.id).join(", ")})`;
  const expected = caveat > 0 ? ` (plus ${caveat} where loss is the documented caveat or window)` : "";
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
    row(COLUMNS.map((_, i) => (NUMERIC(i) ? "---:" : "---"))),
    ...results.flatMap((r) => rowsOf(r).map((cells, j) => row([j === 0 ? r.title : "", ...cells.slice(1)]))),
    "",
    `${verdictLine(results)}.`,
    "",
    "_direction_: _round trip_ is load -> to_ws -> bridge -> endpoint's echo -> bridge -> from_ws -> load;",
    "_to_ws_ is load -> to_ws -> bridge -> API, counted by the API stand-in; _from_ws_ is the API stand-in's",
    "own messages -> bridge -> from_ws -> load. _sent_: what the sender sent (the API's word for from_ws:",
    "send() on an open socket); _received_: distinct messages at the far end; _lost_: sent, never received;",
    "_duplicates_: extra copies (at-least-once); _recover ms_: the longest, over the faults, from a fault (or",
    "its repair: the end of an outage or freeze) to the first message sent after it arriving, restarts and",
    "reconnects included; _verdict_: LOST (this direction lost messages), FAIL (the scenario failed a check",
    "or did not finish), caveat (loss in a documented caveat or window, measured, not a failure), ok.",
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

const LABELS: Record<DirectionResult["name"], string> = {
  "round_trip": "round trip",
  "to_ws": "to_ws",
  "from_ws": "from_ws",
};

/** The cells of each direction's row; a scenario that counted nothing still gets one row. */
function rowsOf(r: ScenarioResult): string[][] {
  const mode = r.mode === "websocket" ? "ws" : "stub";
  if (r.directions.length === 0) {
    return [[r.id, mode, "-", String(r.faults.length), "0", "0", "0", "0", "-", "FAIL"]];
  }
  // A direction that lost says LOST; a scenario that failed otherwise (an error, a check) says FAIL once.
  const anyLost = r.directions.some((d) => d.lost > 0 && !d.expectsLoss);
  return r.directions.map((d, j) => {
    const verdict = d.lost > 0 && !d.expectsLoss
      ? "LOST"
      : !r.ok && !anyLost && j === 0
      ? "FAIL"
      : d.lost > 0
      ? "caveat"
      : "ok";
    return [
      r.id,
      mode,
      LABELS[d.name],
      String(r.faults.length),
      String(d.sent),
      String(d.received),
      String(d.lost),
      String(d.duplicates),
      d.recoverMs === null ? (r.faults.length ? "never" : "-") : String(Math.round(d.recoverMs)),
      verdict,
    ];
  });
}

function details(r: ScenarioResult): string[] {
  const out: string[] = [];
  if (r.error) out.push(`error: ${shorten(r.error)}`);
  for (const d of r.directions) {
    if (d.lost > 0) {
      out.push(`${LABELS[d.name]}: lost ${d.lost}, e.g. #${d.missing.slice(0, 10).join(", #")}`);
    }
    if (d.sent < d.requested) out.push(`${LABELS[d.name]}: sent ${d.sent} of ${d.requested}`);
  }
  for (const c of r.checks) out.push(`${c.ok ? "ok" : "FAILED"}: ${c.name}: ${c.detail}`);
  if (r.leftInToWs > 0) out.push(`${r.leftInToWs} copies left in to_ws at the end`);
  for (const line of r.bridgeErrors) out.push(`bridge: ${line}`);
  return out;
}

/** An error as one line: a bridge's whole output (which start-up errors carry) is in the JSON. */
function shorten(error: string): string {
  const cut = (text: string, n: number) => text.length > n ? `${text.slice(0, n)}...` : text;
  const lines = error.split("\n");
  if (lines.length === 1) return cut(error, 600);
  return `${cut(lines[0]!, 100)} [...] ${
    cut(lines.findLast((l) => / ERROR /.test(l)) ?? lines.at(-1)!, 500)
  }`;
}

function pad(text: string, width: number, right: boolean): string {
  return right ? text.padStart(width) : text.padEnd(width);
}
