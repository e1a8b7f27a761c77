/**
 * Issue 10's scenarios on the shared broker, with the API stand-in
 * (tools/api_server.ts) as the WebSocket endpoint, so to_ws is counted where
 * it arrives (at the API) and the API sends messages of its own (from_ws):
 * a burst from the API, the API frozen under light load and under load,
 * quorum queues declared beforehand, SIGKILLs of the bridge both ways.
 * Each states its full size and the CI form (`size.quick`).
 */
import { KEYS } from "../config/keys.ts";
import { holdFault, nextLineAfter, queueTypes, WS_LOST_LINE } from "./fault_kit.ts";
import type { Run, Scenario, ScenarioSize } from "./harness.ts";

const PING_SECS = Number(KEYS.find((k) => k.key === "ws_ping_interval")!.default);
/** How much later than 2 x ws_ping_interval the bridge may log that the frozen API is gone. */
const NOTICE_SLACK_MS = 5_000;

/**
 * The API sends 20,000 small frames back to back to a healthy bridge and
 * broker: every one must be in from_ws. (On a9ccb75 about half are dropped
 * past mq_buffer_limit.) The burst is the same in the CI form: it is over in
 * seconds, and a smaller one would fit under the old count limit.
 */
export function apiBurst(): Scenario {
  const count = 20_000;
  return {
    id: "api_burst",
    title: "the API sends 20,000 frames back to back",
    mode: "websocket",
    api: { echo: false },
    fromApi: () => ({ count, bytes: 100, rate: 0, startInAct: true }),
    resize: (size) => ({ ...size, count: 0, faults: 1, endWaitMs: 20_000 }),
    async act(run) {
      const fault = run.fault(`API burst of ${count} frames`, run.load.now(), true);
      await run.startApiSending();
      await run.api!.wait("sent", count, 60_000);
      run.notes.burstSentMs = Math.round(run.load.now() - fault.at);
      const fromApi = run.load.fromApi!;
      const all = await run.load.until(
        () => fromApi.distinct >= count,
        20_000,
        `the ${count} frames in from_ws`,
      )
        .then(() => true, () => false);
      run.notes.burstInFromWsMs = all ? Math.round(run.load.now() - fault.at) : null;
    },
  };
}

/** Sizes of a frozen-API scenario: the load, when the freeze starts (message number), how long. */
interface Freeze {
  count: number;
  rate: number;
  freezeAt: number;
  freezeMs: number;
  pingSecs: number;
}

/**
 * The API process is SIGSTOPped for 45 s under light load (16 KiB, about 200
 * to_ws messages over the run), then SIGCONTed. Counted at the API (distinct
 * ids) and round trip (echo): 0 lost. On a9ccb75 the keepalive closes the
 * connection and the no-delay relay discards frames already acknowledged.
 * CI form: ws_ping_interval 2 s and a 10 s freeze, so the keepalive fires
 * within the freeze just the same.
 */
export function apiSigstopLight(): Scenario {
  const sizes = (quick: boolean): Freeze =>
    quick
      ? { count: 100, rate: 5, freezeAt: 20, freezeMs: 10_000, pingSecs: 2 }
      : { count: 200, rate: 3, freezeAt: 40, freezeMs: 45_000, pingSecs: PING_SECS };
  return frozenApi("api_sigstop_light", "API SIGSTOPped under light load, then SIGCONTed", sizes, false);
}

/**
 * The API is SIGSTOPped for 30 s under load (16 KiB x 100/s, echo on). The
 * bridge must notice within about 2 x ws_ping_interval (a WARN that the
 * WebSocket is lost or not responding; the time from the SIGSTOP is
 * recorded), hand its window back, and lose nothing after SIGCONT. On
 * a9ccb75 the freeze under load is never noticed. CI form: ws_ping_interval
 * 2 s, a 12 s freeze.
 */
export function apiSigstopLoad(): Scenario {
  const sizes = (quick: boolean): Freeze =>
    quick
      ? { count: 2_000, rate: 100, freezeAt: 300, freezeMs: 12_000, pingSecs: 2 }
      : { count: 5_500, rate: 100, freezeAt: 1_000, freezeMs: 30_000, pingSecs: PING_SECS };
  return frozenApi("api_sigstop_load", "API SIGSTOPped under load, then SIGCONTed", sizes, true);
}

function frozenApi(
  id: string,
  title: string,
  sizes: (quick: boolean) => Freeze,
  mustNotice: boolean,
): Scenario {
  return {
    id,
    title,
    mode: "websocket",
    api: { echo: true },
    bodyBytes: 16_384,
    overrides: (size) => size.quick ? { "ws_api.ws_ping_interval": String(sizes(true).pingSecs) } : {},
    resize: (size) => {
      const s = sizes(size.quick);
      return { ...size, count: s.count, ratePerSec: s.rate, faults: 1 };
    },
    async act(run) {
      const s = sizes(run.size.quick);
      const bridge = run.bridges[0]!;
      await run.load.sent(s.freezeAt);
      const fault = run.fault(`API SIGSTOPped for ${s.freezeMs / 1000} s (recovery from the SIGCONT)`);
      const noticeMs = 2 * s.pingSecs * 1000 + NOTICE_SLACK_MS;
      const noticed = nextLineAfter(bridge, WS_LOST_LINE, fault.at, Math.min(noticeMs, s.freezeMs));
      run.api!.freeze();
      try {
        await holdFault(s.freezeMs);
      } finally {
        run.api!.thaw();
        fault.repairedAt = run.load.now();
      }
      const ms = await noticed;
      run.notes.freezeNoticedMs = ms;
      if (mustNotice) {
        run.checks.push({
          name: "the bridge notices the frozen API",
          ok: ms !== null,
          detail: ms === null
            ? `no WARN line about the WebSocket (lost / not responding) within ${noticeMs} ms of the SIGSTOP ` +
              `(2 x ws_ping_interval ${s.pingSecs} s + ${NOTICE_SLACK_MS / 1000} s)`
            : `noticed ${ms} ms after the SIGSTOP (limit 2 x ws_ping_interval ${s.pingSecs} s + ` +
              `${NOTICE_SLACK_MS / 1000} s = ${noticeMs} ms)`,
        });
      }
      await run.load.backSentAfter(fault.repairedAt, 60_000);
    },
  };
}

/**
 * Both queues are declared beforehand by the test as quorum queues (durable,
 * `x-queue-type: quorum`), as Amazon MQ recommends; the bridge must use them
 * as they are (not exit 78 on a 406), with traffic both ways and one kill of
 * the WebSocket server, and lose nothing. The queues must still be quorum
 * queues at the end.
 */
export function quorumQueues(): Scenario {
  const apiRate = 200;
  return {
    id: "quorum_queues",
    title: "quorum queues declared beforehand, the API killed once",
    mode: "websocket",
    api: { echo: true },
    queueOptions: { durable: true, arguments: { "x-queue-type": "quorum" } },
    fromApi: (size) => ({
      count: Math.round((size.count / size.ratePerSec) * apiRate),
      bytes: 100,
      rate: apiRate,
    }),
    resize: (size) => ({ ...size, faults: 1 }),
    async act(run) {
      await run.at(1);
      const apiBefore = await run.apiSent();
      const fault = await run.crashApi("API SIGKILLed and restarted");
      await run.load.backSentAfter(fault.at);
      await fromApiAfter(run, apiBefore, 30_000);
      const types = await queueTypes([run.toWs, run.fromWs]);
      run.checks.push({
        name: "the queues are still quorum queues",
        ok: types[run.toWs] === "quorum" && types[run.fromWs] === "quorum",
        detail: `to_ws ${types[run.toWs] ?? "gone"}, from_ws ${types[run.fromWs] ?? "gone"}`,
      });
    },
  };
}

/**
 * The bridge is SIGKILLed three times (started again each time) with traffic
 * both ways. to_ws: nothing lost (a message is acknowledged only after it
 * left). from_ws: what the bridge had read from the API but the broker had
 * not confirmed dies with it, as do frames the API sent into the dead
 * connection before it noticed: the documented window, measured and
 * reported here, not a failure. Duplicates are reported.
 */
export function sigkillBothWays(): Scenario {
  const apiRate = 300;
  const faults = 3;
  const grow = (size: ScenarioSize) => ({
    ...size,
    faults,
    count: Math.max(size.count, (faults + 1) * size.ratePerSec * 3), // ~3 s of load per kill and restart
  });
  return {
    id: "sigkill_both_ways",
    title: "bridge SIGKILLed three times, traffic both ways",
    mode: "websocket",
    api: { echo: false },
    lossExpectedIn: ["from_ws"],
    resize: grow,
    fromApi: (size) => {
      const s = grow(size);
      return { count: Math.round((s.count / s.ratePerSec) * apiRate), bytes: 100, rate: apiRate };
    },
    async act(run) {
      for (let j = 1; j <= run.size.faults; j++) {
        await run.at(j);
        const toBefore = run.load.tally.sent;
        const apiBefore = await run.apiSent();
        run.fault(`bridge SIGKILL #${j}`);
        await run.stopBridge(run.bridges[0]!, "SIGKILL");
        await run.startBridge();
        // Recovered both ways: a message sent after the kill arrived at each end.
        await run.api!.wait("highest", toBefore + 1, 30_000, run.load.tally.prefix);
        await fromApiAfter(run, apiBefore, 30_000);
      }
    },
  };
}

/** Waits until an API message numbered above `n` is in from_ws (or the API sent no more). */
async function fromApiAfter(run: Run, n: number, ms: number): Promise<void> {
  const fromApi = run.load.fromApi!;
  if (n >= run.apiLoad!.count) return;
  await run.load.until(() => fromApi.maxIndexBack > n, ms, `an API message above #${n} in from_ws`);
}
