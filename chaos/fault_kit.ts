/**
 * Small tools the scenarios share: holding a fault for its stated length,
 * sampling the bridge's resident memory while it lasts, watching the
 * bridge's log for the line that says it noticed, and reading what the
 * broker holds (a backlog, the queues' types).
 */
import type { BridgeProcess } from "../tests/_bridge.ts";
import { rabbitmqctl } from "../tools/rabbitmqctl.ts";
import type { Run } from "./harness.ts";
import { lineTime, nthLine, rssKiB } from "./procs.ts";

/**
 * Keeps a fault in place for `ms`. The length of an outage or a freeze is
 * the fault's definition (the "45 s", "60 s"), not a stand-in for
 * an event, so this one wait is a timer.
 */
export function holdFault(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads a process's VmRSS every `everyMs` until stopped; `max` is the largest reading (KiB). */
export class RssSampler {
  max = 0;
  samples = 0;
  readonly #timer: ReturnType<typeof setInterval>;
  #last: Promise<void> = Promise.resolve();

  constructor(pid: number, everyMs = 100) {
    // /proc has no event for memory: polled, as the slow-consumer scenario does.
    this.#timer = setInterval(() => {
      this.#last = rssKiB(pid).then((kib) => {
        this.max = Math.max(this.max, kib);
        this.samples++;
      }, () => {});
    }, everyMs);
  }

  /** Stops sampling; resolves with the largest reading once the last one is in. */
  async stop(): Promise<number> {
    clearInterval(this.#timer);
    await this.#last;
    return this.max;
  }
}

/**
 * The bridge's line saying it lost (or found unresponsive) its WebSocket
 * connection: a WARN that names the WebSocket and says lost, not responding
 * or no response. The exact wording is the bridge's to choose; this matches
 * today's "WebSocket connection lost" too.
 */
export const WS_LOST_LINE = /^(?=.* WARN )(?=.*WebSocket)(?=.*(lost|not responding|no response))/i;

/**
 * Resolves with the milliseconds from `since` to the first `pattern` line the
 * bridge writes from now on (by the line's own timestamp); null if none
 * comes within `ms`.
 */
export function nextLineAfter(
  bridge: BridgeProcess,
  pattern: RegExp,
  since: number,
  ms: number,
): Promise<number | null> {
  const before = bridge.lines.filter((line) => pattern.test(line)).length;
  return nthLine(bridge, pattern, before + 1, ms).then(
    (line) => Math.round(lineTime(line) - since),
    () => null,
  );
}

/** Waits until the broker holds `count` ready messages in to_ws (polled every 100 ms); returns them. */
export async function untilBacklog(run: Run, count: number, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  for (;;) {
    const ready = await run.broker.ready(run.toWs);
    if (ready >= count) return ready;
    if (performance.now() > deadline) {
      throw new Error(`Cannot see a backlog of ${count} in to_ws within ${ms} ms: ${ready} ready`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // the broker has no event for this
  }
}

/** The type (classic, quorum, ...) of each queue named, as the shared broker reports it. */
export async function queueTypes(names: string[]): Promise<Record<string, string>> {
  const out = await rabbitmqctl(["list_queues", "name", "type"]);
  const types: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const [name, type] = line.split("\t");
    if (name !== undefined && type !== undefined && names.includes(name)) types[name] = type;
  }
  return types;
}
