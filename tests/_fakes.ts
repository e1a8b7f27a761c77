/**
 * Fakes of the narrow interfaces the two pump directions use, for unit
 * tests: a publish target that confirms when told, a consume source that
 * records acknowledgements, and a WebSocket connection whose send buffer the
 * test controls. The real handlers are tested against real services in
 * mq_test.ts, ws_test.ts and bridge_test.ts.
 */
import { Buffer } from "node:buffer";
import type { MqAckHandle, MqDelivery, PublishProps } from "../handlers/mq/session.ts";
import type { WsConnection } from "../handlers/ws/client.ts";
import type { PublishTarget } from "../bridge/from_ws.ts";
import type { ConsumeSource } from "../bridge/to_ws.ts";
import type { TimerHandle, Timers } from "../lib/clock.ts";
import { withDeadline } from "./_ws_server.ts";

/** One publish call, settled by the test. */
export interface Published {
  queue: string;
  body: Buffer;
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

/** A broker session's publishing side under the test's control. */
export class FakeTarget implements PublishTarget {
  up = true;
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
export class FakeSource implements ConsumeSource {
  onDelivery: ((d: MqDelivery) => void) | null = null;
  consuming = false;
  readonly acks = new Counter<AckCall>();
  #tag = 0;

  startConsumer(_queue: string, _tag: string, onDelivery: (d: MqDelivery) => void): Promise<void> {
    this.onDelivery = onDelivery;
    this.consuming = true;
    return Promise.resolve();
  }

  stopConsumer(): Promise<void> {
    this.consuming = false;
    return Promise.resolve();
  }

  ack(handle: MqAckHandle, allUpTo = false): void {
    this.acks.push({ kind: "ack", tag: handle.tag, allUpTo, requeue: false });
  }

  nack(handle: MqAckHandle, allUpTo = false, requeue = true): void {
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

  /** Records text frames as strings, binary ones as bytes. */
  send(payload: Uint8Array, text: boolean): boolean {
    if (!this.isOpen) return false;
    this.frames.push(text ? new TextDecoder().decode(payload) : payload);
    this.sentBytes += payload.length;
    return true;
  }

  /** Marks `bytes` more (default: all sent so far) as written to the socket; the test then tells the pump. */
  writeOut(bytes = this.sentBytes - this.writtenBytes): void {
    this.writtenBytes += bytes;
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
