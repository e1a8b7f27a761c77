/**
 * The `-g` layout, as a pure function of the run state and the screen size:
 * the `[Msgs: X of N]` counter on top, then one cell per message, row after
 * row across the full width (' ' not sent yet, '.' sent, 'o' reconciled).
 * When the messages need more rows than the screen has, the window follows
 * the newest message sent, so the activity stays in view. A notice row and a
 * status row sit at the bottom.
 */
import type { Size } from "./screen.ts";
import type { RunState } from "./view.ts";

const TOP = 2;
const BOTTOM = 2;

/** The character of message `index` (1-based). */
export function cell(state: RunState, index: number): string {
  const r = state.reconciler;
  return r.isReconciled(index) ? "o" : index <= r.sent && r.bodies[index - 1] !== "" ? "." : " ";
}

/** The lines of one frame. */
export function gridLines(state: RunState, size: Size, status: string, notice: string): string[] {
  const r = state.reconciler;
  const width = Math.max(1, size.columns);
  const room = Math.max(1, size.rows - TOP - BOTTOM);
  const totalRows = Math.ceil(r.count / width);
  const newestRow = Math.ceil(Math.max(1, r.sent) / width); // 1-based
  const firstRow = totalRows <= room ? 1 : Math.max(1, Math.min(newestRow, totalRows) - room + 1);
  const lastRow = Math.min(totalRows, firstRow + room - 1);
  const scrolled = totalRows > room ? `rows ${firstRow}-${lastRow} of ${totalRows} | ` : "";
  const lines = [
    `[Msgs: ${r.reconciled} of ${r.count}]`,
    `${scrolled}first missing: ${missing(state)} | . sent  o reconciled`,
  ];
  for (let row = firstRow; row <= lastRow; row++) {
    let text = "";
    const end = Math.min(r.count, row * width);
    for (let i = (row - 1) * width + 1; i <= end; i++) text += cell(state, i);
    lines.push(text);
  }
  while (lines.length < size.rows - BOTTOM) lines.push("");
  lines.length = Math.max(0, size.rows - BOTTOM);
  lines.push(notice, `>> ${status}`);
  return lines.slice(-size.rows);
}

function missing(state: RunState): string {
  const first = state.reconciler.firstOpen();
  return first > state.reconciler.sent ? "none" : `#${first}`;
}
