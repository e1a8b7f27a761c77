/**
 * The full-screen views (`-v` table, `-g` grid): a layout drawn on a
 * `Screen`, redrawn at most ~30 times a second however fast messages arrive,
 * at once when the terminal is resized, and every second for the clock in
 * the status line. At the end the status line shows the outcome and, when
 * keys can be read, "press any key to exit".
 */
import { formatMs, formatRate } from "./format.ts";
import type { Screen, Size } from "./screen.ts";
import type { Summary } from "../summary.ts";
import type { RunState, TesterView } from "./view.ts";

/** Builds the lines of a frame. */
export type Layout = (state: RunState, size: Size, status: string, notice: string) => string[];

const FRAME_MS = 33;

/** A full-screen view drawing `layout`. */
export class FullScreenView implements TesterView {
  readonly #screen: Screen;
  readonly #layout: Layout;
  #state: RunState | null = null;
  #notice = "";
  #final: string | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(screen: Screen, layout: Layout) {
    this.#screen = screen;
    this.#layout = layout;
    screen.onResize(() => this.#render());
  }

  begin(state: RunState): void {
    this.#state = state;
    this.#render();
  }

  phase(): void {
    this.#schedule();
  }

  sent(): void {
    this.#schedule();
  }

  received(): void {
    this.#schedule();
  }

  tick(): void {
    this.#schedule();
  }

  notice(text: string): void {
    this.#notice = `! ${text}`;
    this.#schedule();
  }

  async end(summary: Summary, signal: AbortSignal): Promise<void> {
    const lat = summary.latencyMs;
    const verb = summary.interrupted ? "Interrupted" : "Finished";
    // The key prompt comes first, so a narrow terminal does not cut it off.
    this.#final = `${verb}${this.#screen.interactive ? " - press any key to exit" : ""} | ` +
      `${summary.reconciled} of ${summary.requested} reconciled` +
      (summary.lost ? `, ${summary.lost} lost` : "") +
      (summary.duplicates ? `, ${summary.duplicates} duplicates` : "") +
      ` in ${formatMs(summary.elapsedSecs * 1000)}` +
      (lat ? `, p50 ${formatMs(lat.p50)} p99 ${formatMs(lat.p99)}` : "");
    this.#render();
    await this.#screen.nextKey(signal);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#screen.close();
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#render();
    }, FRAME_MS);
  }

  #render(): void {
    const state = this.#state;
    if (!state) return;
    this.#screen.draw(this.#layout(state, this.#screen.size, this.#final ?? status(state), this.#notice));
  }
}

/** The status line while the run goes on. */
export function status(state: RunState): string {
  const r = state.reconciler;
  const now = state.clock.now();
  const f = state.foreign;
  const foreign = f.deliveries ? ` | not ours: ${f.deliveries}${f.consumed ? " consumed" : ""}` : "";
  const secs = Number.isNaN(state.startedAt) ? 0 : (now - state.startedAt) / 1000;
  const rate = secs > 0 ? ` | ${formatRate(r.reconciled / secs)} back` : "";
  switch (state.phase) {
    case "connecting":
      return `Connecting to ${state.brokerUrl}`;
    case "sending":
      return `Sending: ${r.sent} of ${r.count} sent, ${r.reconciled} back${rate}${foreign}`;
    case "waiting": {
      const left = Math.max(0, (state.waitUntil - now) / 1000);
      return `All sent; waiting up to ${left.toFixed(0)} s for ${r.count - r.reconciled} more${foreign}`;
    }
    default:
      return `Stopping${foreign}`;
  }
}
