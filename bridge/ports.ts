/**
 * What the core (to_ws.ts, from_ws.ts, bridge.ts, stub.ts) needs from the
 * outside, and nothing more: a broker to consume from and to publish to, a
 * WebSocket connection, a logger and metrics. The adapters in handlers/
 * (MqSession, WsClient) have exactly these shapes without importing this
 * file; the core imports only this file and lib/. So the core can be run
 * against in-memory fakes (tests/unit) as well as against RabbitMQ.
 */
export type { Logger } from "../lib/log.ts";
export type { Metrics } from "../lib/metrics.ts";
export type { TimerHandle, Timers } from "../lib/clock.ts";

/** What acknowledging needs: the delivery tag and the broker connection it belongs to. */
export interface AckHandle {
  readonly tag: number;
  /** The connection it came from; acks for an older one are ignored. */
  readonly generation: number;
}

/** One message taken from a queue, not yet acknowledged. */
export interface Delivery extends AckHandle {
  readonly body: Uint8Array;
  readonly contentType: string | undefined;
  readonly redelivered: boolean;
}

/** The broker, as the to_ws direction consumes it. */
export interface ConsumeSource {
  /** True while a consumer is registered on the current connection (readiness). */
  readonly consuming: boolean;
  startConsumer(queue: string, tag: string, onDelivery: (d: Delivery) => void): Promise<void>;
  stopConsumer(): Promise<void>;
  ack(handle: AckHandle, allUpTo?: boolean): void;
  nack(handle: AckHandle, allUpTo?: boolean, requeue?: boolean): void;
}

/** Publish properties; `messageId` also makes the message mandatory (unroutable = failure). */
export interface PublishProps {
  contentType: string;
  expirationMs?: number;
  messageId?: string;
}

/** Why a publish failed, beyond its message: `unroutable` when the broker routed it nowhere (its queue is gone). */
export interface PublishError extends Error {
  readonly unroutable?: boolean;
}

/** The broker, as the from_ws direction publishes to it. */
export interface PublishTarget {
  readonly up: boolean;
  /** Increases with every successful connection. */
  readonly generation: number;
  /** False after a publish filled the socket buffer, until it drains. */
  readonly writable: boolean;
  /** True while the broker blocks publishing (a memory or disk alarm). */
  readonly blocked: boolean;
  /** Publishes through the default exchange; `onConfirm(null)` on the broker's confirm, later, never inside the call. */
  publishConfirmed(
    queue: string,
    body: Uint8Array,
    props: PublishProps,
    onConfirm: (err: PublishError | null) => void,
  ): void;
  waitWritable(): Promise<void>;
  /** Makes sure of the queues again (after one was deleted under us). */
  redeclare(): Promise<void>;
}

/** A broker connection's life, as the wiring (bridge.ts) follows it. */
export interface SessionEvents {
  readonly up: boolean;
  /** Resolves after close(); rejects when the connection is given up for good. */
  readonly closed: Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  onUp(fn: () => void): void;
  onDown(fn: (cause: unknown) => void): void;
}

/** The consuming session the wiring is given. */
export type ConsumerSession = ConsumeSource & SessionEvents;

/** The publishing session the wiring is given. */
export interface PublisherSession extends PublishTarget, SessionEvents {
  onBlocked(fn: (blocked: boolean) => void): void;
  /** The broker refused a message as larger than its max_message_size (in bytes). */
  onMessageTooLarge(fn: (maxBytes: number) => void): void;
}

/** One established WebSocket connection (or the stub's loopback). */
export interface WsConnection {
  readonly id: number;
  readonly isOpen: boolean;
  /** Total payload bytes handed to `send` on this connection. */
  readonly sentBytes: number;
  /** Payload bytes of those now written out (see WsHandlers.onWritten). */
  readonly writtenBytes: number;
  /** Sends `payload` as a text frame (it must be valid UTF-8) or a binary one. */
  send(payload: Uint8Array, text: boolean): boolean;
  /**
   * The largest message this connection can carry, when it knows one beyond ws_max_message_bytes (the
   * stub's loopback: the broker's max_message_size, once the broker has refused a message for it).
   */
  readonly maxMessageBytes?: number;
}

/** How a connection ended. */
export interface WsCloseInfo {
  code: number;
  reason: string;
  /** Milliseconds the connection was open. */
  lifetimeMs: number;
}

/** What a WebSocket connection tells the core. */
export interface WsHandlers {
  onOpen(conn: WsConnection): void;
  /** A message; `text` when it came as a text frame (its bytes are not checked for UTF-8 here). */
  onMessage(data: Uint8Array, text: boolean, conn: WsConnection): void;
  /** More of what was sent on `conn` is written out (`conn.writtenBytes` grew). */
  onWritten(conn: WsConnection): void;
  onClose(conn: WsConnection, info: WsCloseInfo): void;
}

/** The WebSocket side as the wiring drives it: the real client, or the stub. */
export interface WsSide {
  /** Resolves at the first open; rejects if it gives up first. */
  start(): Promise<void>;
  /** Resolves after close(); rejects when it gives up for good. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
  /** Stops (true) or resumes (false) reading from the API (backpressure). */
  setReadingPaused(paused: boolean): void;
}
