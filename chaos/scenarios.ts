/**
 * The chaos scenarios of issue #6. Each one breaks the path `faults` times
 * while the load runs; the harness counts. Faults are spread over the run at
 * message counts (`run.at(j)`), and each waits for the path to recover (a
 * message sent after the fault comes back) before the next.
 */
import type { Scenario } from "./harness.ts";
import { untilBacklog } from "./fault_kit.ts";
import { bridgeConnection, closeConnection, lineTime, nthLine, rssKiB } from "./procs.ts";

// Issue 10's scenarios (delivery under pressure, counted both ways) live beside these.
export { apiBurst, apiSigstopLight, apiSigstopLoad, quorumQueues, sigkillBothWays } from "./scenarios_api.ts";
export { alarmBothWays, bigFramesAlarm, brokerOutage } from "./scenarios_broker.ts";
import { KEYS } from "../config/keys.ts";

/** The bridges here run with the default prefetch. */
const PREFETCH = Number(KEYS.find((k) => k.key === "mq_prefetch")!.default);

type Mode = Scenario["mode"];
type StopSignal = "SIGTERM" | "SIGKILL";

/** The WebSocket endpoint is SIGKILLed and started again on the same port, `faults` times. */
export function wsKill(): Scenario {
  return {
    id: "ws_kill",
    title: "WebSocket server SIGKILLed and restarted",
    mode: "websocket",
    async act(run) {
      for (let j = 1; j <= run.size.faults; j++) {
        await run.at(j);
        const t = run.fault(`echo server SIGKILL #${j}`).at;
        await run.crashEcho();
        await run.load.backSentAfter(t);
      }
    },
  };
}

/** The broker closes the bridge's connection (rabbitmqctl close_connection), `faults` times. */
export function brokerClose(mode: Mode): Scenario {
  return {
    id: mode === "stub" ? "broker_close_stub" : "broker_close",
    title: "broker closes the bridge's connection",
    mode,
    // rabbitmqctl needs about a second per fault on a loaded machine, and the requeued window
    // (up to the prefetch) goes through again before the path counts as recovered: 3 s of load per fault.
    resize: (size) => ({ ...size, count: Math.max(size.count, (size.faults + 1) * size.ratePerSec * 3) }),
    async act(run) {
      const bridge = run.bridges[0]!;
      for (let j = 1; j <= run.size.faults; j++) {
        // The consuming connection: closing it hands the to_ws window back (and, with one connection
        // for both, cuts publishing too). Looked up ahead of time: rabbitmqctl takes ~0.5 s.
        const id = await bridgeConnection(bridge.pid, "consume");
        await run.at(j);
        await closeConnection(id);
        // The fault's time is when the bridge saw its connection go, from its log line.
        const lost = await nthLine(bridge, /Lost the broker connection/, j);
        const t = run.fault(`broker close_connection #${j}`, lineTime(lost)).at;
        await run.load.backSentAfter(t);
      }
    },
  };
}

/**
 * The WebSocket side stops reading (the proxy stops forwarding) until the
 * broker holds a backlog in to_ws, proving the bridge stopped taking
 * messages. The bridge's resident memory is read at half the backlog and at
 * the full backlog: bounded means it does not grow with the backlog. Then
 * reading resumes; time to recover counts from the resume to the next
 * message back, and the drain time until the backlog has gone through.
 */
export function slowConsumer(): Scenario {
  const bodyBytes = 16_384;
  return {
    id: "slow_consumer",
    title: "WebSocket server stops reading, then resumes",
    mode: "websocket",
    proxy: true,
    bodyBytes,
    // The bridge's window (prefetch) and the sockets on loopback (megabytes) absorb thousands of
    // 16 KiB messages before a backlog builds at the broker. One pause in the short run.
    resize: (size) => ({
      ...size,
      count: Math.max(size.count, 3 * PREFETCH),
      faults: size.faults > 2 ? 2 : 1,
    }),
    async act(run) {
      const { count, faults } = run.size;
      // The bridge's window (the prefetch) and the sockets take a few thousand messages before a
      // backlog forms: pause early enough, and ask for a backlog small enough, to see it form.
      const backlog = Math.min(1200, Math.floor(count * 0.15));
      const pid = run.bridges[0]!.pid;
      const pauses = [];
      for (let j = 1; j <= faults; j++) {
        await run.load.sent(Math.floor(count * 0.1 + (count * 0.4 * (j - 1)) / faults));
        const before = await rssKiB(pid);
        const pausedAt = run.load.now();
        run.proxy!.pause();
        let half, full;
        try {
          half = { backlog: await untilBacklog(run, backlog / 2, 30_000), rssKiB: await rssKiB(pid) };
          full = { backlog: await untilBacklog(run, backlog, 30_000), rssKiB: await rssKiB(pid) };
        } finally {
          run.proxy!.resume();
        }
        const t = run.fault(`reading paused #${j} (recovery from the resume)`, run.load.now(), true).at;
        await run.load.backSentAfter(t, 60_000);
        const drainMs = Math.round(run.load.now() - t);
        pauses.push({ rssBeforeKiB: before, half, full, pausedMs: Math.round(t - pausedAt), drainMs });
      }
      run.notes.pauses = pauses;
      // What the bridge may hold: prefetch x message size, plus the socket send limit.
      const boundKiB = (PREFETCH * bodyBytes + 1_048_576) / 1024;
      const growth = Math.max(...pauses.map((p) => p.full.rssKiB - p.rssBeforeKiB));
      const late = Math.max(...pauses.map((p) => p.full.rssKiB - p.half.rssKiB));
      const backlogKiB = Math.round(((backlog / 2) * bodyBytes) / 1024);
      run.checks.push({
        name: "memory bounded while the peer does not read",
        ok: growth <= 2 * boundKiB + 16_384 && late <= backlogKiB / 2,
        detail: `RSS grew ${growth} KiB in the pause (may hold ${boundKiB} KiB: prefetch ${PREFETCH} x ` +
          `${bodyBytes} B + 1 MiB; limit 2x + 16 MiB) and ${late} KiB while the broker's backlog ` +
          `grew by ${backlog / 2} messages (${backlogKiB} KiB; limit half that)`,
      });
    },
  };
}

/**
 * The documented WebSocket caveat, measured: the API stops reading until the
 * bridge's window is full (a backlog forms at the broker), then the API dies
 * and the connection is cut. Frames that left the bridge over
 * `ws_ack_delay_ms` before were acknowledged though still unread, in socket
 * buffers: they are lost. Loss here is expected and reported, not a failure.
 */
export function stalledPeerDies(): Scenario {
  return {
    id: "stalled_peer_dies",
    title: "WebSocket server stops reading, then dies (caveat)",
    mode: "websocket",
    proxy: true,
    bodyBytes: 16_384,
    expectsLoss: true,
    resize: (size) => ({ ...size, count: Math.max(size.count, 3 * PREFETCH), faults: 1 }),
    async act(run) {
      await run.load.sent(Math.floor(run.size.count * 0.1));
      run.proxy!.pause();
      const pausedAt = run.load.now();
      await untilBacklog(run, 1, 30_000); // the bridge stopped taking messages: its window is full
      const t = run.fault("reading stalled, then the server SIGKILLed and the connection cut").at;
      run.proxy!.cutAll();
      run.proxy!.resume();
      await run.crashEcho();
      await run.load.backSentAfter(t);
      run.notes.stalledMs = Math.round(t - pausedAt);
    },
  };
}

/** The bridge gets `signal` mid-load and is started again, `faults` times. */
export function bridgeRestart(mode: Mode, signal: StopSignal): Scenario {
  return {
    id: `bridge_${signal.toLowerCase()}${mode === "stub" ? "_stub" : ""}`,
    title: `bridge ${signal}ed and started again`,
    mode,
    async act(run) {
      for (let j = 1; j <= run.size.faults; j++) {
        await run.at(j);
        const t = run.fault(`bridge ${signal} #${j}`).at;
        await run.stopBridge(run.bridges[0]!, signal);
        await run.startBridge();
        await run.load.backSentAfter(t);
      }
    },
  };
}

/**
 * Two bridges share the queues; the older one is stopped with `signal`. The
 * other carries on; a new second bridge joins before the next repetition.
 */
export function twoBridges(mode: Mode, signal: StopSignal): Scenario {
  return {
    id: `two_bridges_${signal.toLowerCase()}${mode === "stub" ? "_stub" : ""}`,
    title: `two bridges share the queues, one ${signal}ed`,
    mode,
    bridges: 2,
    async act(run) {
      for (let j = 1; j <= run.size.faults; j++) {
        await run.at(j);
        const t = run.fault(`one of two bridges ${signal} #${j}`).at;
        await run.stopBridge(run.bridges[0]!, signal);
        await run.load.backSentAfter(t);
        if (j < run.size.faults) await run.startBridge();
      }
    },
  };
}
