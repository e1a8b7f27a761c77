/**
 * Fakes of the ports the core needs (bridge/ports.ts), for unit tests: a
 * publishing session that confirms when told, a consuming session that
 * records acknowledgements, a WebSocket connection whose written bytes the
 * test moves on, a WebSocket side, and timers the test drives. The real
 * handlers are tested against real services in mq_test.ts, ws_test.ts and
 * bridge_test.ts.
 */
import { Buffer } from "node:buffer";
import type {
  AckHandle,
  ConsumerSession,
  Delivery,
  PublisherSession,
  PublishProps,
  TimerHandle,
  Timers,
  WsConnection,
  WsHandlers,
  WsSide,
} from "../bridge/ports.ts";
import { withDeadline } from "./_ws_server.ts";

/** One publish call, settled by the test. */
export interface Published {
  queue: string;
  body: Uint8Array;
  props: PublishProps;
  resolve(): void;
  reject(err: Error): void;
}

/** Resolves waiters when `count()` reaches a value. */
class Counter<T> {
  readonly items: T[] = [];
  #waiters: { n: number; resolve: () => void }[] = [];
  push(item: T): void {
    this.items.push(item);
    this.#waiters = this.#waiters.filter((w) => !(this.items.length >= w.n && (w.resolve(), true)));
  }
  reach(n: number, what: string, ms = 2_000): Promise<void> {
    if (this.items.length >= n) return Promise.resolve();
    return withDeadline(new Promise((resolve) => this.#waiters.push({ n, resolve })), ms, what);
  }
}

/** A session's life (start, close, up and down), driven by the test with `goDown()` and `goUp()`. */
class FakeSessionEvents {
  up = true;
  readonly #closed = Promise.withResolvers<void>();
  readonly closed: Promise<void> = this.#closed.promise;
  #upListeners: (() => void)[] = [];
  #downListeners: ((cause: unknown) => void)[] = [];
  /** Connected, as the real session's first connection: the up listeners are told. */
  start(): Promise<void> {
    if (this.up) { for (const fn of this.#upListeners) fn(); }
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.#closed.resolve();
    return Promise.resolve();
  }
  onUp(fn: () => void): void {
    this.#upListeners.push(fn);
  }
  onDown(fn: (cause: unknown) => void): void {
    this.#downListeners.push(fn);
  }
  /** The connection drops: listeners are told, as the real session tells them. */
  goDown(): void {
    this.up = false;
    for (const fn of this.#downListeners) fn(new Error("dropped by the test"));
  }
  /** It is back. */
  goUp(): void {
    this.up = true;
    for (const fn of this.#upListeners) fn();
  }
}

/** A broker session's publishing side under the test's control. */
export class FakeTarget extends FakeSessionEvents implements PublisherSession {
  generation = 1;
  writable = true;
  blocked = false;
  redeclared = 0;
  readonly calls = new Counter<Published>();
  #drain: (() => void)[] = [];

  get published(): Published[] {
    return this.calls.items;
  }

  publishConfirmed(
    queue: string,
    body: Buffer,
    props: PublishProps,
    onConfirm: (err: Error | null) => void,
  ): void {
    // Settled later, as the broker's confirm would be: never inside the test's resolve() call.
    const resolve = () => queueMicrotask(() => onConfirm(null));
    const reject = (err: Error) => queueMicrotask(() => onConfirm(err));
    this.calls.push({ queue, body, props, resolve, reject });
  }

  waitWritable(): Promise<void> {
    return this.writable ? Promise.resolve() : new Promise((resolve) => this.#drain.push(resolve));
  }

  redeclare(): Promise<void> {
    this.redeclared++;
    return Promise.resolve();
  }

  onBlocked(_fn: (blocked: boolean) => void): void {}

  onMessageTooLarge(_fn: (maxBytes: number) => void): void {}

  /** Lets publishing continue after `writable = false`. */
  drain(): void {
    this.writable = true;
    for (const wake of this.#drain.splice(0)) wake();
  }
}

/** An acknowledgement the pump sent. */
export interface AckCall {
  kind: "ack" | "nack";
  tag: number;
  allUpTo: boolean;
  requeue: boolean;
}

/** A broker session's consuming side: the test delivers, the fake records acks. */
export class FakeSource extends FakeSessionEvents implements ConsumerSession {
  onDelivery: ((d: Delivery) => void) | null = null;
  consuming = false;
  readonly acks = new Counter<AckCall>();
  #tag = 0;

  startConsumer(_queue: string, _tag: string, onDelivery: (d: Delivery) => void): Promise<void> {
    this.onDelivery = onDelivery;
    this.consuming = true;
    return Promise.resolve();
  }

  stopConsumer(): Promise<void> {
    this.consuming = false;
    return Promise.resolve();
  }

  ack(handle: AckHandle, allUpTo = false): void {
    this.acks.push({ kind: "ack", tag: handle.tag, allUpTo, requeue: false });
  }

  nack(handle: AckHandle, allUpTo = false, requeue = true): void {
    this.acks.push({ kind: "nack", tag: handle.tag, allUpTo, requeue });
  }

  /** Delivers a message as the broker would (tags count up from 1). */
  deliver(body: string | Uint8Array, contentType?: string): void {
    this.onDelivery!({
      body: Buffer.from(body),
      contentType,
      tag: ++this.#tag,
      generation: 1,
      redelivered: false,
    });
  }
}

/** A WebSocket connection whose written-out bytes the test moves on (`writeOut`). */
export class FakeConnection implements WsConnection {
  readonly id = 1;
  isOpen = true;
  sentBytes = 0;
  writtenBytes = 0;
  readonly frames = new Counter<string | Uint8Array>();
  /** While true, `send` refuses though the connection is open (a runtime that would not take the frame). */
  refusing = false;
  /** The connection's own limit on a message, if any (the stub's: the broker's max_message_size). */
  maxMessageBytes?: number;

  /** Records text frames as strings, binary ones as bytes. */
  send(payload: Uint8Array, text: boolean): boolean {
    if (!this.isOpen || this.refusing) return false;
    this.frames.push(text ? new TextDecoder().decode(payload) : payload);
    this.sentBytes += payload.length;
    return true;
  }

  /** Marks `bytes` more (default: all sent so far) as written to the socket; the test then tells the pump. */
  writeOut(bytes = this.sentBytes - this.writtenBytes): void {
    this.writtenBytes += bytes;
  }
}

/**
 * A WebSocket side that opens one FakeConnection at start; the test sends "API" messages with
 * `fromApi`, and loses and restores the connection with `drop()` and `reopen()`.
 */
export class FakeWsSide implements WsSide {
  conn = new FakeConnection();
  readonly #handlers: WsHandlers;
  readonly #closed = Promise.withResolvers<void>();
  readonly closed: Promise<void> = this.#closed.promise;
  paused = false;

  constructor(handlers: WsHandlers) {
    this.#handlers = handlers;
  }
  start(): Promise<void> {
    this.#handlers.onOpen(this.conn);
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.#closed.resolve();
    return Promise.resolve();
  }
  setReadingPaused(paused: boolean): void {
    this.paused = paused;
  }
  /** The connection closes (the API went away), as the client reports it. */
  drop(code = 1006): void {
    this.conn.isOpen = false;
    this.#handlers.onClose(this.conn, { code, reason: "dropped by the test", lifetimeMs: 1 });
  }
  /** A new connection opens (the client reconnected). */
  reopen(): void {
    this.conn = new FakeConnection();
    this.#handlers.onOpen(this.conn);
  }
  /** A message from the API. */
  fromApi(text: string): void {
    this.#handlers.onMessage(new TextEncoder().encode(text), true, this.conn);
  }
  /** The relay wrote all that was sent. */
  writeOut(): void {
    this.conn.writeOut();
    this.#handlers.onWritten(this.conn);
  }
}

/** Timers the test drives: `now()` moves only with `advance()`, which runs what falls due, in order. */
export class FakeTimers implements Timers {
  #now = 0;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.#timers.delete(handle as number);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time on by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (!first || entry[1].at < first[1].at)) first = entry;
      }
      if (!first) break;
      this.#timers.delete(first[0]);
      this.#now = first[1].at;
      first[1].fn();
    }
    this.#now = end;
  }
}
