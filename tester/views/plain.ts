/**
 * The plain view: a line per send and per receipt (with its turnaround
 * time), a progress line each second (rates and the latency percentiles of
 * that second), warnings on their own lines. `focused` leaves out the
 * messages that are not ours; `quiet` leaves out every per-message line.
 */
import { ProgressMeter } from "../progress.ts";
import { formatClock, formatMs, formatMsValue, formatRate, printableBody } from "./format.ts";
import { LineWriter, type SyncWriter } from "./line_writer.ts";
import type { ReceivedEvent, RunState, TesterView } from "./view.ts";

/** Options of the plain view. */
export interface PlainViewOptions {
  out: SyncWriter;
  focused: boolean;
  quiet: boolean;
}

/** Shows a run as lines of text. */
export class PlainView implements TesterView {
  readonly #out: LineWriter;
  readonly #opts: PlainViewOptions;
  #state: RunState | null = null;
  #meter: ProgressMeter | null = null;

  constructor(opts: PlainViewOptions) {
    this.#opts = opts;
    this.#out = new LineWriter(opts.out);
  }

  begin(state: RunState): void {
    this.#state = state;
    this.#meter = new ProgressMeter(state.reconciler, state.clock);
    this.phase();
  }

  phase(): void {
    const s = this.#state!;
    const n = s.reconciler.count;
    switch (s.phase) {
      case "connecting":
        return this.#out.line(`Connecting to ${s.brokerUrl}`);
      case "sending":
        return this.#out.line(
          `Sending ${n} message${n === 1 ? "" : "s"} to "${s.toWs}", reconciling "${s.fromWs}"`,
        );
      case "waiting": {
        const left = n - s.reconciler.reconciled;
        if (left === 0) return;
        const secs = (s.waitUntil - s.clock.now()) / 1000;
        return this.#out.line(`All sent; waiting up to ${secs.toFixed(1)} s for ${left} more`);
      }
      case "interrupted":
        return this.#out.line("Interrupted; stopping");
    }
  }

  sent(index: number): void {
    if (this.#opts.quiet) return;
    const s = this.#state!;
    const at = s.clock.wall(s.reconciler.sentAt[index - 1]!);
    this.#out.line(`>>> ${formatClock(at)} sent ${s.reconciler.bodies[index - 1]}`);
  }

  received(e: ReceivedEvent): void {
    const r = this.#state!.reconciler;
    if (e.outcome === "reconciled") this.#meter!.add(r.elapsed(e.index));
    if (this.#opts.quiet || (this.#opts.focused && e.outcome === "foreign")) return;
    const now = formatClock(this.#state!.clock.wall(this.#state!.clock.now()));
    if (e.outcome === "reconciled") {
      this.#out.line(`<<< ${now} back ${e.body} in ${formatMs(r.elapsed(e.index))}`);
    } else if (e.outcome === "duplicate") {
      this.#out.line(`<<< ${now} duplicate ${e.body}`);
    } else {
      const what = e.action === "consume" ? "consumed (-x)" : "handed back";
      this.#out.line(`<<< ${now} not ours, ${what}: ${printableBody(e.body)}`);
    }
  }

  tick(): void {
    if (this.#state!.phase === "connecting") return; // nothing to measure yet
    const p = this.#meter!.sample();
    const lat = p.latency;
    const latency = lat
      ? `latency ms p50 ${formatMsValue(lat.p50)} p95 ${formatMsValue(lat.p95)} p99 ${
        formatMsValue(lat.p99)
      } max ${formatMsValue(lat.max)}`
      : "latency ms -";
    const f = this.#state!.foreign;
    const foreign = f.deliveries > 0 ? `, not ours ${f.deliveries}` : "";
    this.#out.line(
      `[${p.secs.toFixed(0).padStart(4)} s] sent ${p.sent} (${
        formatRate(p.sentPerSec)
      }), back ${p.reconciled} (${
        formatRate(p.reconciledPerSec)
      }), outstanding ${p.outstanding}${foreign}, ${latency}`,
    );
  }

  notice(text: string): void {
    this.#out.line(`!!! ${text}`);
  }

  end(): Promise<void> {
    this.#out.flush();
    return Promise.resolve();
  }

  close(): void {
    this.#out.flush();
  }
}
