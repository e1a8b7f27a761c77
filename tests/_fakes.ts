/**
 * Fakes of the narrow interfaces the two pump directions use, for unit
 * tests: a publish target that confirms when told, a consume source that
 * records acknowledgements, and a WebSocket connection whose send buffer the
 * test controls. The real handlers are tested against real services in
 * mq_test.ts, ws_test.ts and bridge_test.ts.
 */
import { Buffer } from "node:buffer";
import type { MqAckHandle, MqDelivery, PublishProps } from "../handlers/mq.ts";
import type { WsConnection } from "../handlers/ws.ts";
import type { PublishTarget } from "../lib/from_ws.ts";
import type { ConsumeSource } from "../lib/to_ws.ts";
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
  redeclared = 0;
  readonly calls = new Counter<Published>();
  #drain: (() => void)[] = [];

  get published(): Published[] {
    return this.calls.items;
  }

  publish(queue: string, body: Buffer, props: PublishProps): Promise<void> {
    return new Promise((resolve, reject) => this.calls.push({ queue, body, props, resolve, reject }));
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

/** A WebSocket connection whose unsent bytes (`bufferedAmount`) the test sets. */
export class FakeConnection implements WsConnection {
  readonly id = 1;
  isOpen = true;
  bufferedAmount = 0;
  sentBytes = 0;
  readonly frames = new Counter<string | Uint8Array>();

  send(data: string | Uint8Array, byteLength: number): boolean {
    if (!this.isOpen) return false;
    this.frames.push(data);
    this.sentBytes += byteLength;
    return true;
  }
}
