/**
 * Whether messages can flow, and the state of each side since when: what
 * `GET /ready` answers and what the `*_connected` gauges show.
 *
 * Ready means all of: both broker connections up (a session is up only once
 * its queues are declared, so up implies declared), the consumer running on
 * the current consume connection, and the WebSocket connected (in stub mode
 * the loopback stands for it). Anything else is not ready, and `reasons` says
 * why in words an operator can act on.
 */
import type { Metrics } from "./ports.ts";
import { MQ_CONSUME_CONNECTED, MQ_PUBLISH_CONNECTED, WS_CONNECTED } from "../lib/metrics.ts";

/** A connection's state. `connecting`: not up yet since the start. `down`: was up, lost, reconnecting. */
export type LinkState = "connecting" | "up" | "down" | "closed";

/** One connection's state and since when (wall-clock milliseconds). */
export interface LinkStatus {
  state: LinkState;
  since: number;
}

/** What the readiness check is built from, read at the moment it is asked. */
export interface HealthSources {
  /** The consume connection is consuming `mq_qname_to_ws` (the consumer is registered). */
  consuming(): boolean;
  /** to_ws messages received and not yet acknowledged. */
  unacked(): number;
  /** from_ws messages (and their bytes) waiting for the broker's confirmation. */
  buffered(): { count: number; bytes: number };
}

/** What a `BridgeHealth` is made with. */
export interface HealthOptions {
  /** Stub mode (-X): the loopback stands for the WebSocket. */
  stub: boolean;
  /** Where the `*_connected` gauges are registered. */
  metrics: Metrics;
  /** Connection attempts so far, per side (read from the metrics registry by the caller). */
  attempts?: (side: "mq" | "ws") => number;
  /** Wall-clock milliseconds, for `since` (default `Date.now`). */
  wallNow?: () => number;
}

/** The `/ready` answer: `ready` and, as JSON, the state of every part. */
export interface Readiness {
  ready: boolean;
  /** Why not, one short sentence per part that is not ready; empty when ready. */
  reasons: string[];
  broker: {
    consume: LinkReport;
    publish: LinkReport;
    "connection_attempts": number;
    consuming: boolean;
  };
  websocket: LinkReport & { "connection_attempts": number; stub: boolean };
  "to_ws": { unacked: number };
  "from_ws": { buffered: number; "buffered_bytes": number };
}

/** A link as reported: `since` in ISO 8601. */
export interface LinkReport {
  state: LinkState;
  since: string;
}

/** Follows the broker sessions and the WebSocket as the wiring reports them. */
export class BridgeHealth {
  readonly consume: LinkStatus;
  readonly publish: LinkStatus;
  readonly ws: LinkStatus;
  readonly #stub: boolean;
  readonly #wall: () => number;
  readonly #attempts: (side: "mq" | "ws") => number;
  #sources: HealthSources | null = null;

  constructor(options: HealthOptions) {
    this.#stub = options.stub;
    this.#attempts = options.attempts ?? (() => 0);
    this.#wall = options.wallNow ?? Date.now;
    const start = this.#wall();
    this.consume = { state: "connecting", since: start };
    this.publish = { state: "connecting", since: start };
    this.ws = { state: "connecting", since: start };
    options.metrics.gauge(MQ_CONSUME_CONNECTED, () => this.consume.state === "up" ? 1 : 0);
    options.metrics.gauge(MQ_PUBLISH_CONNECTED, () => this.publish.state === "up" ? 1 : 0);
    options.metrics.gauge(WS_CONNECTED, () => this.ws.state === "up" ? 1 : 0);
  }

  /** Where the counts come from (the wiring sets it once the parts exist). */
  attach(sources: HealthSources): void {
    this.#sources = sources;
  }

  /** Records a transition of one link; the same state again keeps its `since`; nothing after `closeAll()`. */
  set(link: "consume" | "publish" | "ws", state: LinkState): void {
    const status = this[link];
    if (status.state === state || status.state === "closed") return;
    status.state = state;
    status.since = this.#wall();
  }

  /** Marks every link closed (shutdown has begun): the links' last moves are not news any more. */
  closeAll(): void {
    for (const link of ["consume", "publish", "ws"] as const) this.set(link, "closed");
  }

  /** The readiness answer, computed now. */
  readiness(): Readiness {
    const sources = this.#sources;
    const consuming = sources?.consuming() ?? false;
    const reasons: string[] = [];
    const link = (name: string, status: LinkStatus) => {
      if (status.state !== "up") reasons.push(`${name} is ${status.state} since ${iso(status.since)}`);
    };
    link("the broker connection that consumes", this.consume);
    link("the broker connection that publishes", this.publish);
    link(this.#stub ? "the stub loopback" : "the WebSocket", this.ws);
    // While the WebSocket is down the consumer is cancelled on purpose: only news when both links are up.
    if (!consuming && this.consume.state === "up" && this.ws.state === "up") {
      reasons.push("the consumer is not running");
    }
    const buffered = sources?.buffered() ?? { count: 0, bytes: 0 };
    return {
      ready: reasons.length === 0,
      reasons,
      broker: {
        consume: report(this.consume),
        publish: report(this.publish),
        "connection_attempts": this.#attempts("mq"),
        consuming,
      },
      websocket: { ...report(this.ws), "connection_attempts": this.#attempts("ws"), stub: this.#stub },
      "to_ws": { unacked: sources?.unacked() ?? 0 },
      "from_ws": { buffered: buffered.count, "buffered_bytes": buffered.bytes },
    };
  }
}

function report(status: LinkStatus): LinkReport {
  return { state: status.state, since: iso(status.since) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
