/**
 * runTester() against a fake of its narrow broker interface: flow control,
 * resending after a reconnect, ending early, interruption. (The real broker
 * and bridge are in tester_test.ts.)
 */
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import type { MqAckHandle, MqDelivery, PublishProps } from "../../handlers/mq/session.ts";
import { systemClock } from "../../lib/clock.ts";
import { PUBLISH_WINDOW, runTester, type TesterMq, type TesterRunOptions } from "../../tester/run.ts";
import type { TesterView } from "../../tester/views/view.ts";

/** A broker and stub bridge in one: every confirmed publish comes back on the consumer. */
class FakeMq implements TesterMq {
  up = true;
  writable = true;
  closed = new Promise<void>(() => {});
  unconfirmed: { body: Buffer; resolve: () => void; reject: (err: Error) => void }[] = [];
  maxUnconfirmed = 0;
  acks = 0;
  autoConfirm = true;
  /** Fails this publish (0-based count of publish calls) as a dropped connection would. */
  failCall = -1;
  /** Refuses this publish (a broker nack) while the connection stays up. */
  refuseCall = -1;
  #calls = 0;
  #onUp: (() => void)[] = [];
  #deliver: ((d: MqDelivery) => void) | null = null;
  #tag = 0;

  start = () => Promise.resolve();
  waitWritable = () => Promise.resolve();
  onUp = (fn: () => void) => void this.#onUp.push(fn);
  startConsumer = (_q: string, _t: string, fn: (d: MqDelivery) => void) => {
    this.#deliver = fn;
    return Promise.resolve();
  };
  stopConsumer = () => {
    this.#deliver = null;
    return Promise.resolve();
  };
  ack = (_d: MqAckHandle) => void this.acks++;
  nack = () => {};

  publish = (_queue: string, body: Buffer, _props: PublishProps): Promise<void> => {
    if (this.#calls === this.refuseCall) {
      this.#calls++;
      return Promise.reject(new Error("message nacked"));
    }
    if (this.#calls++ === this.failCall) {
      this.up = false;
      setTimeout(() => this.reconnect(), 0); // the session reconnects by itself, a moment later
      return Promise.reject(new Error("connection lost"));
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.unconfirmed.push({ body, resolve, reject });
    this.maxUnconfirmed = Math.max(this.maxUnconfirmed, this.unconfirmed.length);
    if (this.autoConfirm) queueMicrotask(() => this.confirmAll());
    return promise;
  };

  /** Confirms every publish waiting, and delivers each back. */
  confirmAll(): void {
    for (const { body, resolve } of this.unconfirmed.splice(0)) {
      resolve();
      this.#deliver?.({
        body,
        contentType: "text/plain",
        tag: ++this.#tag,
        generation: 1,
        redelivered: false,
      });
    }
  }

  reconnect(): void {
    this.up = true;
    for (const fn of this.#onUp) fn();
  }
}

const quietView: TesterView = {
  begin() {},
  phase() {},
  sent() {},
  received() {},
  tick() {},
  notice() {},
  end: () => Promise.resolve(),
  close() {},
};

function options(overrides: Partial<TesterRunOptions> = {}): TesterRunOptions {
  return {
    count: 10,
    delayMs: 0,
    endDelayMs: 5_000,
    exclusive: false,
    toWs: "to",
    fromWs: "from",
    brokerUrl: "amqp://fake",
    consumerTag: "test",
    pid: 1,
    prefetch: 100,
    size: null,
    ...overrides,
  };
}

Deno.test("runTester() keeps at most PUBLISH_WINDOW publishes waiting for confirmation", async () => {
  const mq = new FakeMq();
  mq.autoConfirm = false;
  const controller = new AbortController();
  const confirming = setInterval(() => mq.confirmAll(), 1);
  try {
    const result = await runTester(options({ count: 3 * PUBLISH_WINDOW }), {
      mq,
      view: quietView,
      clock: systemClock(),
      signal: controller.signal,
    });
    assert.equal(result.reconciler.reconciled, 3 * PUBLISH_WINDOW);
    assert.equal(mq.maxUnconfirmed, PUBLISH_WINDOW);
    assert.equal(result.confirmed, 3 * PUBLISH_WINDOW);
  } finally {
    clearInterval(confirming);
  }
});

Deno.test("runTester() with --size sends bodies of that size and reconciles them", async () => {
  const mq = new FakeMq();
  const sizes = new Set<number>();
  const publish = mq.publish;
  mq.publish = (queue, body, props) => (sizes.add(body.length), publish(queue, body, props));
  const result = await runTester(options({ count: 20, size: 16_384 }), {
    mq,
    view: quietView,
    clock: systemClock(),
    signal: new AbortController().signal,
  });
  assert.deepEqual([...sizes], [16_384]);
  assert.equal(result.reconciler.reconciled, 20);
});

Deno.test("runTester() ends as soon as every message is back, not after the end delay", async () => {
  const mq = new FakeMq();
  const started = performance.now();
  const result = await runTester(options({ count: 50, endDelayMs: 60_000 }), {
    mq,
    view: quietView,
    clock: systemClock(),
    signal: new AbortController().signal,
  });
  assert.ok(performance.now() - started < 5_000);
  assert.equal(result.reconciler.reconciled, 50);
  assert.equal(result.interrupted, false);
  assert.equal(mq.acks, 50);
});

Deno.test("runTester() sends a publish again once the lost connection is back", async () => {
  const mq = new FakeMq();
  mq.failCall = 3;
  const result = await runTester(options({ count: 6 }), {
    mq,
    view: quietView,
    clock: systemClock(),
    signal: new AbortController().signal,
  });
  assert.equal(result.republished, 1);
  assert.equal(result.reconciler.reconciled, 6);
  assert.equal(result.reconciler.duplicates, 0);
});

Deno.test("runTester() stops sending when aborted and reports the run as interrupted", async () => {
  const mq = new FakeMq();
  const controller = new AbortController();
  const view = { ...quietView, sent: (i: number) => i === 3 && controller.abort() };
  const result = await runTester(options({ count: 100, delayMs: 10 }), {
    mq,
    view,
    clock: systemClock(),
    signal: controller.signal,
  });
  assert.equal(result.interrupted, true);
  assert.equal(result.reconciler.sent, 3);
});

Deno.test("runTester() does not resend a message the broker refused on a live connection", async () => {
  const mq = new FakeMq();
  mq.refuseCall = 2;
  const result = await runTester(options({ count: 5, endDelayMs: 50 }), {
    mq,
    view: quietView,
    clock: systemClock(),
    signal: new AbortController().signal,
  });
  assert.equal(result.republished, 0);
  assert.equal(result.confirmed, 4);
  assert.deepEqual(result.reconciler.unreconciled(), [result.reconciler.bodies[2]]);
});
