/**
 * What a bridgetester run leaves behind on the broker, and how to clear it,
 * as lines for people at the end of the run. Test messages that did not come
 * back are still somewhere: on the to_ws queue when no bridge took them (a
 * bridge started later sends them to the real WebSocket API until they
 * expire), or on their way back to from_ws. Without `-x`, messages that were
 * not ours were handed back to from_ws and stay there. Pure.
 */
import type { Summary } from "./summary.ts";

/** Where the run's messages went, and how it was configured (for the commands it suggests). */
export interface LeftoverContext {
  toWs: string;
  fromWs: string;
  exclusive: boolean;
  /** Time-to-live of each test message on to_ws, ms. */
  testTtlMs: number;
  /** Time-to-live the bridge gives what it publishes to from_ws (`mq_ttl_from_ws`), ms. */
  fromWsTtlMs: number;
  /** How this run read its configuration, for the suggested command: `-c FILE` or `-s`. */
  configArgs: string;
}

/** Lines about what is left on the queues; none when the run left nothing. */
export function leftoverLines(s: Pick<Summary, "lost" | "foreign">, ctx: LeftoverContext): string[] {
  const lines: string[] = [];
  const consume = `bridgetester ${ctx.configArgs} -x -n 1 -d 0 -e 10`;
  const purge = (queue: string) =>
    `rabbitmqctl purge_queue ${shellQuote(queue)} (on Amazon MQ: the RabbitMQ web console, Queues, ` +
    `${queue}, Purge Messages)`;
  if (s.lost > 0) {
    lines.push(
      `Left on the broker: ${plural(s.lost, "test message")} of this run did not come back. Each is still ` +
        `on queue "${ctx.toWs}" if no bridge took it, until it expires ${secs(ctx.testTtlMs)} after it was ` +
        `sent (a bridge started before then sends it to the WebSocket API), or its reply may still arrive ` +
        `on "${ctx.fromWs}" (kept there up to ${secs(ctx.fromWsTtlMs)}, mq_ttl_from_ws).`,
      `  To clear them: wait for them to expire; or, if nothing else uses "${ctx.toWs}", ${
        purge(ctx.toWs)
      }; ` +
        `replies that reach "${ctx.fromWs}" later are consumed by ${consume} (with -x it takes every ` +
        `message on that queue, so never while real consumers depend on it).`,
    );
  }
  if (!ctx.exclusive && s.foreign.handedBack > 0) {
    const n = s.foreign.handedBack;
    lines.push(
      `Left on the broker: ${plural(n, "message")} on queue "${ctx.fromWs}" ${n === 1 ? "was" : "were"} ` +
        `not this run's and ${n === 1 ? "was" : "were"} handed back (-x was off); ${
          n === 1 ? "it stays" : "they stay"
        } there for ${n === 1 ? "its" : "their"} consumer.`,
      `  If they are stale test messages from an earlier run, clear them with: ${consume} (it takes every ` +
        `message on that queue); or, if nothing else uses "${ctx.fromWs}", ${purge(ctx.fromWs)}.`,
    );
  }
  return lines;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function secs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/** Single-quotes a queue name for a shell when it needs it. */
function shellQuote(text: string): string {
  return /^[\w.:/-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
