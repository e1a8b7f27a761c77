/**
 * Stub mode (-X) as a WebSocket side of its own: a loopback connection whose
 * `send` publishes the message to the from_ws queue through the same publish
 * path as the API's messages (FromWsPublisher.forward), and counts it as
 * written once the broker confirms it. The to_ws direction then acknowledges
 * it by its one rule (to_ws.ts), with no hold (ws_ack_delay_ms does not
 * apply). While the publishing connection is down the loopback is closed, so
 * consumption pauses, as it does while a WebSocket is down; a forward the
 * lost connection took with it closes the loopback too, and everything not
 * yet acknowledged goes back to the queue.
 */
import type { SessionEvents, WsConnection, WsHandlers, WsSide } from "./ports.ts";
import type { FromWsPublisher } from "./from_ws.ts";
import { Queue } from "../lib/queue.ts";
import { BINARY, TEXT } from "./frames.ts";

/** The part of the publisher a forward goes through. */
export type Forwarder = Pick<FromWsPublisher, "forward" | "brokerMaxBytes">;

/** The stub's side: opens a loopback connection whenever the publishing connection is up. */
export class StubSide implements WsSide {
  readonly #forwarder: Forwarder;
  readonly #handlers: WsHandlers;
  readonly #publishing: Pick<SessionEvents, "up" | "onUp" | "onDown">;
  #conn: StubConnection | null = null;
  #ids = 0;
  #closing = false;
  readonly #closed = Promise.withResolvers<void>();
  readonly closed: Promise<void> = this.#closed.promise;

  constructor(
    forwarder: Forwarder,
    handlers: WsHandlers,
    publishing: Pick<SessionEvents, "up" | "onUp" | "onDown">,
  ) {
    this.#forwarder = forwarder;
    this.#handlers = handlers;
    this.#publishing = publishing;
    publishing.onUp(() => this.#open());
    publishing.onDown(() => this.#lose("the broker connection for publishing was lost"));
  }

  start(): Promise<void> {
    if (this.#publishing.up) this.#open();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closing = true;
    this.#lose("stopping");
    this.#closed.resolve();
    return Promise.resolve();
  }

  /** Nothing to pause: the stub reads nothing from an API. */
  setReadingPaused(): void {}

  #open(): void {
    if (this.#closing || this.#conn) return;
    const conn = this.#conn = new StubConnection(++this.#ids, this.#forwarder, {
      written: (c: StubConnection) => this.#handlers.onWritten(c),
      failed: () => this.#lose("a forward was not confirmed"),
    });
    this.#handlers.onOpen(conn);
  }

  #lose(reason: string): void {
    const conn = this.#conn;
    if (!conn) return;
    this.#conn = null;
    conn.isOpen = false;
    this.#handlers.onClose(conn, { code: 1011, reason, lifetimeMs: Date.now() - conn.openedAt });
    if (this.#publishing.up) queueMicrotask(() => this.#open()); // a forward failed on a live connection
  }
}

/** What a loopback connection tells its side. */
interface LoopbackEvents {
  written(conn: StubConnection): void;
  failed(): void;
}

/** One loopback connection: written = confirmed by the broker, in order. */
class StubConnection implements WsConnection {
  readonly id: number;
  readonly openedAt = Date.now();
  isOpen = true;
  sentBytes = 0;
  writtenBytes = 0;
  readonly #forwarder: Forwarder;
  readonly #events: LoopbackEvents;
  /** Forwards not yet counted written, in order: `ok` once confirmed. */
  readonly #pending = new Queue<{ bytes: number; ok: boolean }>();
  #flushQueued = false;

  constructor(id: number, forwarder: Forwarder, events: LoopbackEvents) {
    this.id = id;
    this.#forwarder = forwarder;
    this.#events = events;
  }

  /** A message the broker has refused as too large is refused by to_ws from then on, not looped. */
  get maxMessageBytes(): number {
    return this.#forwarder.brokerMaxBytes;
  }

  send(payload: Uint8Array, text: boolean): boolean {
    if (!this.isOpen) return false;
    const item = { bytes: payload.length, ok: false };
    this.#pending.push(item);
    this.sentBytes += payload.length;
    this.#forwarder.forward(payload, text ? TEXT : BINARY, (ok) => {
      if (!this.isOpen) return;
      if (!ok) return this.#events.failed();
      item.ok = true;
      // The broker confirms in batches: one notice (so one ack) for all confirmed in this turn.
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(() => this.#flush());
      }
    });
    return true;
  }

  #flush(): void {
    this.#flushQueued = false;
    if (!this.isOpen) return;
    const before = this.writtenBytes;
    while (this.#pending.at(0)?.ok) this.writtenBytes += this.#pending.shift()!.bytes;
    if (this.writtenBytes !== before) this.#events.written(this);
  }
}
