/**
 * The bridge: wires the broker session and the WebSocket client to the two
 * directions (to_ws.ts, from_ws.ts) and owns start-up and shutdown order.
 *
 * Two broker connections, as RabbitMQ advises: one consumes to_ws, one
 * publishes from_ws, so a broker that blocks publishers (a memory or disk
 * alarm) never holds back to_ws acknowledgements.
 *
 * Start: broker first, then the WebSocket; nothing is consumed or produced
 * until both are up. Run: until the signal aborts (clean shutdown) or either
 * side gives up (the error is thrown). Stop, within `shutdownMs`: stop
 * consuming and let sent messages settle, close the WebSocket, wait for the
 * broker to confirm what the WebSocket sent, close the broker connections
 * (which returns anything unacknowledged to its queue).
 */
import type { BridgeConfig } from "../config/config.ts";
import type {
  ConsumerSession,
  Logger,
  Metrics,
  PublisherSession,
  Timers,
  WsConnection,
  WsHandlers,
  WsSide,
} from "./ports.ts";
import { within } from "../lib/async.ts";
import { EventSummary } from "../lib/event_summary.ts";
import { systemTimers } from "../lib/clock.ts";
import { FromWsPublisher } from "./from_ws.ts";
import { BridgeHealth } from "./health.ts";
import { BINARY, publishedType } from "./frames.ts";
import { StubSide } from "./stub.ts";
import { NO_REPLIES, ToWsPump } from "./to_ws.ts";

/** Everything the bridge runs with; built by main.ts (or a test). */
export interface BridgeDeps {
  config: BridgeConfig;
  /** The broker connection that consumes to_ws. */
  consumer: ConsumerSession;
  /** The broker connection that publishes from_ws (and, in stub mode, the forwards). */
  publisher: PublisherSession;
  /** Creates the WebSocket client with the bridge's handlers; null for stub mode (-X). */
  createWs: ((handlers: WsHandlers) => WsSide) | null;
  log: Logger;
  metrics: Metrics;
  /** Time for the delivery rules (default the real clock; tests pass one they move). */
  clock?: Timers;
  /** Upper bound on the whole shutdown (default 10 s, below systemd's stop timeout). */
  shutdownMs?: number;
  /** Follows readiness (`GET /ready`); default: one of its own, for the `*_connected` gauges. */
  health?: BridgeHealth;
}

/** Most publishes awaiting confirmation at once. */
const PUBLISH_WINDOW = 1000;
const DEFAULT_SHUTDOWN_MS = 10_000;

/** Runs until `signal` aborts (resolves) or a side gives up for good (rejects with its error). */
export async function runBridge(deps: BridgeDeps, signal: AbortSignal): Promise<void> {
  const { config, consumer, metrics } = deps;
  const clock = deps.clock ?? systemTimers;
  const log = deps.log.child("bridge");
  const publisher = new FromWsPublisher(deps.publisher, {
    queue: config.mq.queueFromWs,
    ttlMs: config.mq.ttlFromWsMs,
    limit: config.mq.bufferLimit,
    limitBytes: config.mq.bufferBytes,
    window: PUBLISH_WINDOW,
    idPrefix: `mq2wsbridge-${crypto.randomUUID().slice(0, 8)}-`,
  }, { log, metrics, clock });
  const stub = deps.createWs === null;
  // In stub mode the connection is the loopback to from_ws: no hold, no API replies to wait for,
  // the prefetch the only bound.
  const ws = stub ? null : config.ws;
  const pump = new ToWsPump(consumer, {
    queue: config.mq.queueToWs,
    consumerTag: config.mq.consumerTag,
    ackDelayMs: ws?.ackDelayMs ?? 0,
    maxBufferedBytes: ws?.maxBufferedBytes ?? Infinity,
    maxMessageBytes: ws?.maxMessageBytes ?? Infinity,
    ...(stub ? { sentLine: "Forwarded to the from_ws queue (stub mode)" } : {}),
  }, { log, metrics, replies: stub ? NO_REPLIES : publisher, clock });
  const health = deps.health ?? new BridgeHealth({ stub, metrics });
  health.attach({
    consuming: () => consumer.consuming,
    unacked: () => pump.unacked,
    buffered: () => ({ count: publisher.buffered, bytes: publisher.bufferedBytes }),
  });
  consumer.onUp(() => health.set("consume", "up"));
  consumer.onDown(() => health.set("consume", "down"));
  deps.publisher.onUp(() => health.set("publish", "up"));
  deps.publisher.onDown(() => health.set("publish", "down"));
  deps.publisher.onUp(() => publisher.onMqUp());
  deps.publisher.onDown(() => publisher.onMqDown());
  deps.publisher.onBlocked(() => publisher.onMqBlocked());
  deps.publisher.onMessageTooLarge((max) => publisher.onBrokerMaxSize(max));
  consumer.onDown(() => pump.onMqDown());

  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  const sessions = [consumer, deps.publisher];
  const badText = new EventSummary<{ bytes: number }>(
    ({ bytes }, count, spanMs) => {
      log.warn(
        "The WebSocket API sent text frames that are not valid UTF-8; published as application/octet-stream",
        {
          count,
          ...(spanMs > 0 ? { in_last_secs: Math.round(spanMs / 1000) } : {}),
          bytes,
        },
      );
    },
    10_000,
    clock,
  );
  let open: WsConnection | null = null; // the connection readiness follows (a late close of an old one is not news)
  const handlers: WsHandlers = {
    onOpen: (conn) => {
      open = conn;
      health.set("ws", "up");
      pump.attach(conn);
    },
    onClose: (conn) => {
      if (conn === open) {
        open = null;
        health.set("ws", "down");
      }
      pump.detach(conn);
    },
    onWritten: (conn) => pump.onWritten(conn),
    onMessage: (data, text) => {
      const contentType = publishedType(data, text);
      if (text && contentType === BINARY) badText.note({ bytes: data.length });
      publisher.accept(data, contentType);
    },
  };
  const side: WsSide = deps.createWs?.(handlers) ?? new StubSide(publisher, handlers, deps.publisher);
  publisher.onPressure((paused) => {
    side.setReadingPaused(paused);
    if (log.debugEnabled) {
      log.debug(paused ? "Reading from the WebSocket paused" : "Reading from the WebSocket resumed", {
        buffered: publisher.buffered,
        bytes: publisher.bufferedBytes,
      });
    }
  });
  try {
    await untilStopped(Promise.all(sessions.map((s) => s.start())).then(() => {}), stopped);
    if (signal.aborted) return;
    await untilStopped(side.start(), stopped);
    if (signal.aborted) return;
    log.info("Bridging", {
      to_ws: config.mq.queueToWs,
      from_ws: config.mq.queueFromWs,
      mode: stub ? "stub" : "websocket",
    });
    await Promise.race([stopped, ...sessions.map((s) => s.closed), side.closed]);
  } finally {
    badText.flush();
    health.closeAll(); // not ready from the first step of the shutdown on
    await shutdown(
      { consumer, publishing: deps.publisher, side, pump, publisher, log },
      deps.shutdownMs ?? DEFAULT_SHUTDOWN_MS,
    );
  }
}

/** Waits for `start`, or returns early if the bridge is stopped first. */
async function untilStopped(start: Promise<void>, stopped: Promise<void>): Promise<void> {
  await Promise.race([start, stopped]);
}

interface Parts {
  consumer: ConsumerSession;
  publishing: PublisherSession;
  side: WsSide;
  pump: ToWsPump;
  publisher: FromWsPublisher;
  log: Logger;
}

async function shutdown(
  { consumer, publishing, side, pump, publisher, log }: Parts,
  budgetMs: number,
): Promise<void> {
  const deadline = Date.now() + budgetMs;
  const left = () => Math.max(0, deadline - Date.now());
  log.info("Shutting down");
  // Half the budget for sent frames to settle; the rest to confirm what the WebSocket sent.
  await pump.stop(consumer.up ? left() / 2 : 0);
  await side.close();
  if (publishing.up) await within(publisher.drained(), left());
  publisher.dispose();
  if (publisher.buffered > 0) {
    log.error("WebSocket messages not confirmed by the broker at shutdown are lost", {
      count: publisher.buffered,
      bytes: publisher.bufferedBytes,
    });
  }
  await Promise.all([consumer.close(), publishing.close()]);
  log.info("Stopped");
}
