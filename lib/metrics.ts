/**
 * In-process metrics: counters bumped and histograms observed on the message
 * path, and gauges read only when someone takes a snapshot (the CloudWatch
 * publisher, the Prometheus endpoint, tests). Counting is a Map update and
 * observing a walk along a short array of bucket bounds: neither allocates,
 * so both are cheap enough for every message.
 */

/** Metric names, as published to CloudWatch; what each one means is in `METRIC_INFO`. */
export const TO_WS_TOTAL = "to_ws_total";
export const FROM_WS_TOTAL = "from_ws_total";
export const MQ_CONNECTION_ATTEMPTS_TOTAL = "mq_connection_attempts_total";
export const WS_CONNECTION_ATTEMPTS_TOTAL = "ws_connection_attempts_total";
export const MQ_CONNECTIONS_LOST_TOTAL = "mq_connections_lost_total";
export const WS_CONNECTIONS_LOST_TOTAL = "ws_connections_lost_total";
export const TO_WS_REQUEUED_TOTAL = "to_ws_requeued_total";
export const TO_WS_REJECTED_TOTAL = "to_ws_rejected_total";
export const FROM_WS_RECEIVED_TOTAL = "from_ws_received_total";
export const FROM_WS_PUBLISH_FAILURES_TOTAL = "from_ws_publish_failures_total";
export const FROM_WS_DROPPED_TOTAL = "from_ws_dropped_total";
export const WS_READ_PAUSES_TOTAL = "ws_read_pauses_total";
export const CW_METRICS_PUBLISH_FAILURES_TOTAL = "cw_metrics_publish_failures_total";
export const FROM_WS_BUFFERED = "from_ws_buffered";
export const FROM_WS_BUFFERED_BYTES = "from_ws_buffered_bytes";
export const TO_WS_UNACKED = "to_ws_unacked";
export const MQ_CONSUME_CONNECTED = "mq_consume_connected";
export const MQ_PUBLISH_CONNECTED = "mq_publish_connected";
export const WS_CONNECTED = "ws_connected";
export const FROM_WS_CONFIRM_SECONDS = "from_ws_confirm_seconds";

/** What a metric is: a counter (only grows), a gauge (read when a snapshot is taken) or a histogram. */
export type MetricKind = "counter" | "gauge" | "histogram";

/** A metric's kind and one line saying what it counts or measures. */
export interface MetricInfo {
  readonly kind: MetricKind;
  readonly help: string;
}

/**
 * Every name above, in the order the reference tables list them, with what it means: the one place
 * the meaning is written (the Prometheus endpoint's HELP lines read it).
 */
export const METRIC_INFO: Readonly<Record<string, MetricInfo>> = {
  [TO_WS_TOTAL]: {
    kind: "counter",
    help: "Messages sent from the broker to the WebSocket and acknowledged to the broker",
  },
  [FROM_WS_TOTAL]: {
    kind: "counter",
    help: "WebSocket messages published to the broker and confirmed by it",
  },
  [MQ_CONNECTION_ATTEMPTS_TOTAL]: {
    kind: "counter",
    help: "Attempts to connect to the broker, first connections and reconnections",
  },
  [WS_CONNECTION_ATTEMPTS_TOTAL]: {
    kind: "counter",
    help: "Attempts to connect to the WebSocket API, first connections and reconnections",
  },
  [MQ_CONNECTIONS_LOST_TOTAL]: {
    kind: "counter",
    help: "Broker connections that were up and then lost (each one starts a reconnection)",
  },
  [WS_CONNECTIONS_LOST_TOTAL]: {
    kind: "counter",
    help: "WebSocket connections that were up and then lost (each one starts a reconnection)",
  },
  [TO_WS_REQUEUED_TOTAL]: {
    kind: "counter",
    help: "Broker messages handed back to the queue (WebSocket down or a failed send)",
  },
  [TO_WS_REJECTED_TOTAL]: {
    kind: "counter",
    help:
      "Broker messages rejected without requeue as larger than ws_max_message_bytes (dead-lettered or dropped)",
  },
  [FROM_WS_RECEIVED_TOTAL]: {
    kind: "counter",
    help: "WebSocket messages received, published or not yet",
  },
  [FROM_WS_PUBLISH_FAILURES_TOTAL]: {
    kind: "counter",
    help: "Publishes the broker did not confirm (the message is published again)",
  },
  [FROM_WS_DROPPED_TOTAL]: {
    kind: "counter",
    help:
      "WebSocket messages dropped as larger than mq_buffer_bytes or the broker's max_message_size (the only drop)",
  },
  [WS_READ_PAUSES_TOTAL]: {
    kind: "counter",
    help: "Times reading from the WebSocket paused because mq_buffer_limit or mq_buffer_bytes was reached",
  },
  [CW_METRICS_PUBLISH_FAILURES_TOTAL]: {
    kind: "counter",
    help: "CloudWatch PutMetricData calls that failed (with -m)",
  },
  [FROM_WS_BUFFERED]: {
    kind: "gauge",
    help: "WebSocket messages waiting for the broker's confirmation",
  },
  [FROM_WS_BUFFERED_BYTES]: {
    kind: "gauge",
    help: "Body bytes of the WebSocket messages waiting for the broker's confirmation",
  },
  [TO_WS_UNACKED]: {
    kind: "gauge",
    help: "Broker messages received and not yet acknowledged",
  },
  [MQ_CONSUME_CONNECTED]: {
    kind: "gauge",
    help: "1 while the consuming broker connection is up, else 0",
  },
  [MQ_PUBLISH_CONNECTED]: {
    kind: "gauge",
    help: "1 while the publishing broker connection is up, else 0",
  },
  [WS_CONNECTED]: {
    kind: "gauge",
    help: "1 while the WebSocket connection is open, else 0",
  },
  [FROM_WS_CONFIRM_SECONDS]: {
    kind: "histogram",
    help: "Seconds from publishing a WebSocket message to the broker's confirmation of it",
  },
};

/** The upper bounds of each histogram's buckets, ascending; only these names can be observed. */
export const HISTOGRAM_BUCKETS: Readonly<Record<string, readonly number[]>> = {
  [FROM_WS_CONFIRM_SECONDS]: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
};

/** What the message path records. */
export interface Metrics {
  count(name: string, n?: number): void;
  /** Registers a gauge, read at snapshot time. */
  gauge(name: string, read: () => number): void;
  /** Adds one observation to the histogram `name` (one of `HISTOGRAM_BUCKETS`). */
  observe(name: string, value: number): void;
}

/** A histogram at a point in time. */
export interface HistogramSnapshot {
  /** Upper bounds, ascending (the last bucket, +Inf, is implicit). */
  buckets: readonly number[];
  /** Cumulative: `counts[i]` observations were at most `buckets[i]`. */
  counts: number[];
  sum: number;
  /** Every observation (the +Inf bucket). */
  count: number;
}

/** A point-in-time copy of every counter, gauge and histogram. */
export interface MetricsSnapshot {
  counters: Record<string, number>;
  gauges: Record<string, number>;
  histograms: Record<string, HistogramSnapshot>;
}

/** One histogram's running state: per-bucket counts (not cumulative), the last slot for above every bound. */
interface Histogram {
  readonly buckets: readonly number[];
  readonly counts: number[];
  sum: number;
}

/** The in-memory implementation every sink and test reads from. */
export class MetricsRegistry implements Metrics {
  #counters = new Map<string, number>();
  #gauges = new Map<string, () => number>();
  /** Every histogram of `HISTOGRAM_BUCKETS`, from the start: one that saw nothing yet reads as zeros. */
  #histograms = new Map<string, Histogram>(
    Object.entries(HISTOGRAM_BUCKETS).map(([name, buckets]) => [
      name,
      { buckets, counts: new Array<number>(buckets.length + 1).fill(0), sum: 0 },
    ]),
  );

  count(name: string, n = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + n);
  }

  gauge(name: string, read: () => number): void {
    this.#gauges.set(name, read);
  }

  /** Throws for a name that has no buckets: a mistake in the code, which any test of the caller shows. */
  observe(name: string, value: number): void {
    const histogram = this.#histograms.get(name);
    if (!histogram) throw new TypeError(`Cannot observe "${name}": it has no buckets in HISTOGRAM_BUCKETS`);
    const { buckets, counts } = histogram;
    let i = 0;
    while (i < buckets.length && !(value <= buckets[i]!)) i++; // NaN goes to +Inf, as in Prometheus' clients
    counts[i]!++;
    histogram.sum += value;
  }

  /** The current value of one counter (0 if never counted). */
  counter(name: string): number {
    return this.#counters.get(name) ?? 0;
  }

  snapshot(): MetricsSnapshot {
    const gauges: Record<string, number> = {};
    for (const [name, read] of this.#gauges) gauges[name] = read();
    const histograms: Record<string, HistogramSnapshot> = {};
    for (const [name, { buckets, counts, sum }] of this.#histograms) {
      let running = 0;
      const cumulative = counts.map((n) => (running += n));
      histograms[name] = { buckets, counts: cumulative.slice(0, buckets.length), sum, count: running };
    }
    return { counters: Object.fromEntries(this.#counters), gauges, histograms };
  }
}
