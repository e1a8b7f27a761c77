/**
 * In-process metrics: counters bumped on the message path and gauges read
 * only when someone takes a snapshot (the CloudWatch publisher, tests).
 * Counting is a Map update, cheap enough for every message.
 */

/** Metric names, as published to CloudWatch. The first group is the original's. */
export const TO_WS_TOTAL = "to_ws_total";
export const FROM_WS_TOTAL = "from_ws_total";
export const MQ_CONNECTION_ATTEMPTS_TOTAL = "mq_connection_attempts_total";
export const WS_CONNECTION_ATTEMPTS_TOTAL = "ws_connection_attempts_total";
/** Connections that were up and then lost (each one starts a reconnect). */
export const MQ_CONNECTIONS_LOST_TOTAL = "mq_connections_lost_total";
export const WS_CONNECTIONS_LOST_TOTAL = "ws_connections_lost_total";
/** to_ws messages handed back to the queue (WebSocket down or failed send). */
export const TO_WS_REQUEUED_TOTAL = "to_ws_requeued_total";
/** to_ws messages rejected without requeue (larger than ws_max_message_bytes): dead-lettered or dropped. */
export const TO_WS_REJECTED_TOTAL = "to_ws_rejected_total";
/** WebSocket messages received (published or not yet). */
export const FROM_WS_RECEIVED_TOTAL = "from_ws_received_total";
/** Publish attempts the broker did not confirm; the message is retried. */
export const FROM_WS_PUBLISH_FAILURES_TOTAL = "from_ws_publish_failures_total";
/** WebSocket messages rejected because one alone is larger than mq_buffer_bytes (the only drop). */
export const FROM_WS_DROPPED_TOTAL = "from_ws_dropped_total";
/** Times reading from the WebSocket paused because mq_buffer_limit or mq_buffer_bytes was reached. */
export const WS_READ_PAUSES_TOTAL = "ws_read_pauses_total";
/** Gauge: WebSocket messages waiting for the broker's confirmation. */
export const FROM_WS_BUFFERED = "from_ws_buffered";
/** Gauge: body bytes of the WebSocket messages waiting for the broker's confirmation. */
export const FROM_WS_BUFFERED_BYTES = "from_ws_buffered_bytes";
/** Gauge: to_ws messages received from the broker and not yet acknowledged. */
export const TO_WS_UNACKED = "to_ws_unacked";

/** What the message path records. */
export interface Metrics {
  count(name: string, n?: number): void;
  /** Registers a gauge, read at snapshot time. */
  gauge(name: string, read: () => number): void;
}

/** A point-in-time copy of every counter and gauge. */
export interface MetricsSnapshot {
  counters: Record<string, number>;
  gauges: Record<string, number>;
}

/** The in-memory implementation every sink and test reads from. */
export class MetricsRegistry implements Metrics {
  #counters = new Map<string, number>();
  #gauges = new Map<string, () => number>();

  count(name: string, n = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + n);
  }

  gauge(name: string, read: () => number): void {
    this.#gauges.set(name, read);
  }

  /** The current value of one counter (0 if never counted). */
  counter(name: string): number {
    return this.#counters.get(name) ?? 0;
  }

  snapshot(): MetricsSnapshot {
    const gauges: Record<string, number> = {};
    for (const [name, read] of this.#gauges) gauges[name] = read();
    return { counters: Object.fromEntries(this.#counters), gauges };
  }
}
