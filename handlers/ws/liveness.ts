/**
 * When the relay (handlers/ws/relay.ts) pings the API and when it gives the
 * connection up, as a pure function of what it has seen, so the rule can be
 * tested with numbers instead of clocks.
 *
 * The write queue cannot be the judge: under load a ping waits behind the
 * frames before it, and a frozen API never reads them. So the relay looks at
 * both directions of its own TCP socket: the API is alive while it sends
 * anything (a pong, a message), or while writes that had to wait for it keep
 * completing (it reads, slowly). Writes that complete at once prove nothing:
 * the kernel takes them whether or not anyone reads.
 *
 * While reading is paused for backpressure, silence is the bridge's own
 * doing; the one sign left is a write that stays stuck.
 */

/** What the relay knows about its connection, in milliseconds of one clock. */
export interface LinkActivity {
  now: number;
  /** Last time any byte arrived from the API (or the connection opened). */
  lastReadAt: number;
  /** True while a write to the API is under way (the socket is full). */
  writing: boolean;
  /** Last time a write (or part of one) to the API completed. */
  lastWriteAt: number;
  /** Last time a write that had to wait (the socket was full) completed. */
  lastDrainAt: number;
  /** A ping was sent and nothing has arrived since. */
  pingOutstanding: boolean;
  /** Reading is paused for backpressure: silence is our own doing. */
  paused: boolean;
}

/** "ping": send one now; "dead": give the connection up; "ok": nothing to do. */
export type Verdict = "ok" | "ping" | "dead";

/**
 * With ping interval `intervalMs` (0: off): ping after an interval of silence;
 * dead after two intervals of silence unless writes drained (a write that had
 * to wait completed, or the one under way moved) within the last interval.
 * While paused: dead only when a write has been stuck for two intervals.
 */
export function judgeLiveness(a: LinkActivity, intervalMs: number): Verdict {
  if (intervalMs <= 0) return "ok";
  if (a.paused) {
    const stuckMs = a.now - Math.max(a.lastWriteAt, a.lastDrainAt);
    return a.writing && stuckMs >= 2 * intervalMs ? "dead" : "ok";
  }
  const silentMs = a.now - a.lastReadAt;
  const draining = a.now - a.lastDrainAt < intervalMs || (a.writing && a.now - a.lastWriteAt < intervalMs);
  if (silentMs >= 2 * intervalMs && !draining) return "dead";
  if (silentMs >= intervalMs && !a.pingOutstanding) return "ping";
  return "ok";
}
