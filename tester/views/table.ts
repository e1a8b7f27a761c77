/**
 * The `-v` layout, as a pure function of the run state and the screen size:
 * the `[Msgs: X of N]` counter, then a table (Message, Sent At, Received At,
 * Elapsed) of the newest messages that fit, then a notice row and a status
 * row at the bottom.
 */
import { fit, formatClock, formatMs } from "./format.ts";
import type { Size } from "./screen.ts";
import type { RunState } from "./view.ts";

/** Rows above and below the table. */
const TOP = 2;
const BOTTOM = 2;

/** The lines of one frame. */
export function tableLines(state: RunState, size: Size, status: string, notice: string): string[] {
  const r = state.reconciler;
  const lines: string[] = [
    `[Msgs: ${r.reconciled} of ${r.count}]  bridgetester: "${state.toWs}" -> "${state.fromWs}"`,
  ];
  const last = Math.max(1, r.sent);
  const msgWidth = Math.max(30, r.bodies[last - 1]!.length + 2);
  lines.push(`${fit("Message", msgWidth)}${fit("Sent At", 15)}${fit("Received At", 15)}Elapsed`);
  const room = Math.max(0, size.rows - TOP - BOTTOM);
  const first = Math.max(1, r.sent - room + 1);
  for (let i = first; i <= r.sent; i++) {
    const sent = formatClock(state.clock.wall(r.sentAt[i - 1]!));
    const back = r.isReconciled(i);
    const received = back ? formatClock(state.clock.wall(r.receivedAt[i - 1]!)) : "---";
    const elapsed = back ? formatMs(r.elapsed(i)) : "---";
    lines.push(`${fit(r.bodies[i - 1]!, msgWidth)}${fit(sent, 15)}${fit(received, 15)}${elapsed}`);
  }
  while (lines.length < size.rows - BOTTOM) lines.push("");
  lines.length = Math.max(0, size.rows - BOTTOM);
  lines.push(notice, `>> ${status}`);
  return lines.slice(-size.rows);
}
