/**
 * What every bridgetester view implements, and the run state it reads. The
 * run calls the hooks as things happen; a view only reads `RunState` and
 * writes to its own output, so the run does not know how it is shown.
 */
import type { Clock } from "../../lib/clock.ts";
import type { Outcome, Reconciler } from "../reconcile.ts";

export type { ForeignCounts };
import type { ForeignCounts, Summary } from "../summary.ts";

/** Where the run is. */
export type Phase = "connecting" | "sending" | "waiting" | "done" | "interrupted";

/** Everything a view may read. */
export interface RunState {
  readonly reconciler: Reconciler;
  readonly clock: Clock;
  readonly foreign: Readonly<ForeignCounts>;
  readonly phase: Phase;
  /** Monotonic time of the first send (NaN before it). */
  readonly startedAt: number;
  /** Monotonic time the end delay runs out (NaN before the waiting phase). */
  readonly waitUntil: number;
  /** Where the messages go and come from, for headings. */
  readonly toWs: string;
  readonly fromWs: string;
  readonly brokerUrl: string;
}

/** A received message, as the run classified it. */
export interface ReceivedEvent {
  outcome: Outcome;
  /** 1-based message number (0 when foreign). */
  index: number;
  body: string;
  /** Acknowledged, handed back (rejected with requeue, maybe after a hold), or consumed (-x). */
  action: "ack" | "reject" | "consume";
}

/** A way of showing a run. */
export interface TesterView {
  /** Before anything happens; the view keeps `state` to read from. */
  begin(state: RunState): void;
  /** The phase changed (`state.phase`). */
  phase(): void;
  /** Message `index` (1-based) was just sent. */
  sent(index: number): void;
  received(event: ReceivedEvent): void;
  /** Once a second during the run. */
  tick(): void;
  /** A warning worth showing (broker reconnects, starved prefetch...). */
  notice(text: string): void;
  /** The run is over: show the outcome; full-screen views wait for a key (or `signal`). */
  end(summary: Summary, signal: AbortSignal): Promise<void>;
  /** Restores the terminal and flushes output. Safe to call twice. */
  close(): void;
}
