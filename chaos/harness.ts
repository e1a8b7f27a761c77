/**
 * Runs one chaos scenario end to end, on a real broker (the shared one, or
 * a private node for faults that would disturb others) with real processes:
 * two unique queues, the WebSocket endpoint (the echo server, or the API
 * stand-in that counts what it receives and sends its own messages), an
 * optional TCP proxy in front of it, one or two bridge processes and the
 * load. The scenario's `act` breaks things while the load runs; then
 * chaos/conclude.ts waits for every message (with a deadline), stops the
 * bridges gracefully, takes what is left on from_ws, and counts, per
 * direction (chaos/directions.ts).
 *
 * Time to recover, per fault: from the fault (or from its repair, for an
 * outage or a freeze) to the first receipt of a message sent after that
 * moment, so it includes restarting whatever was killed and the bridge's
 * reconnect. With `anyBack`, to the first message back at all.
 */
import { AMQP_URL, openBroker, type TestBroker } from "../tests/_broker.ts";
import { type BridgeProcess, bridgeValues, writeIni } from "../tests/_bridge.ts";
import { startProxy, type TcpProxy } from "../tests/_proxy.ts";
import { ApiProcess } from "./api_process.ts";
import { conclude } from "./conclude.ts";
import { Load } from "./load.ts";
import { PrivateBroker } from "./private_broker.ts";
import { crashAndRestartEcho, type EchoProcess, startBridgeProcess, startEcho } from "./procs.ts";
import type { ApiLoad, ApiSnapshot, Fault, Scenario, ScenarioResult, ScenarioSize } from "./types.ts";

export type * from "./types.ts";

/**
 * The suite's settings on top of the bridge defaults. A connection that lived
 * 2 s counts as a routine drop, so repeated crashes a few seconds apart do not
 * use up ws_max_connect_attempts (at the default 60 s window, five crashes of
 * the API within a minute make the bridge give up with status 69, by design).
 */
export const SUITE_OVERRIDES: Readonly<Record<string, string>> = { "ws_api.ws_attempt_window_secs": "2" };

/** What `act` works with. */
export class Run {
  readonly scenario: Scenario;
  readonly size: ScenarioSize;
  readonly broker: TestBroker;
  readonly brokerUrl: string;
  /** The private node, for scenarios that break the broker itself. */
  readonly node: PrivateBroker | null;
  readonly toWs: string;
  readonly fromWs: string;
  load!: Load;
  echo: EchoProcess | null = null;
  api: ApiProcess | null = null;
  /** What the API stand-in sends of its own accord (null: nothing). */
  readonly apiLoad: (ApiLoad & { prefix: string }) | null;
  /** What API processes that were killed had sent and received, taken just before. */
  readonly apiSnapshots: ApiSnapshot[] = [];
  proxy: TcpProxy | null = null;
  /** The bridges running now, oldest first. */
  bridges: BridgeProcess[] = [];
  /** Bridges that exited without being told to. */
  readonly exits: { pid: number; code: number; atMs: number }[] = [];
  readonly faults: Fault[] = [];
  readonly checks: ScenarioResult["checks"] = [];
  readonly notes: Record<string, unknown> = {};
  readonly processes: AsyncDisposable[] = [];
  readonly everyBridge: BridgeProcess[] = [];
  readonly started = performance.now();
  ini = "";

  constructor(
    scenario: Scenario,
    size: ScenarioSize,
    where: { broker: TestBroker; url: string; node: PrivateBroker | null; toWs: string; fromWs: string },
  ) {
    this.scenario = scenario;
    this.size = size;
    this.broker = where.broker;
    this.brokerUrl = where.url;
    this.node = where.node;
    this.toWs = where.toWs;
    this.fromWs = where.fromWs;
    const apiLoad = scenario.fromApi?.(size);
    this.apiLoad = apiLoad ? { ...apiLoad, prefix: `api ${crypto.randomUUID().slice(0, 8)} #` } : null;
  }

  /** Resolves once the share `j / (faults + 1)` of the messages has been sent. */
  at(j: number): Promise<void> {
    return this.load.sent(Math.floor((this.size.count * j) / (this.size.faults + 1)));
  }

  /**
   * Records a fault now (or at `at`); returns it. It has recovered when a message sent after it
   * (after `repairedAt`, once set) is back, or with `anyBack`, when any message is.
   */
  fault(label: string, at = this.load.now(), anyBack = false): Fault {
    const fault: Fault = { label, at, anyBack, repairedAt: null };
    this.faults.push(fault);
    return fault;
  }

  /** Starts one more bridge process and waits until it is bridging. */
  async startBridge(): Promise<BridgeProcess> {
    const bridge = await startBridgeProcess(this.ini, this.scenario.mode === "stub");
    this.processes.push(bridge);
    this.everyBridge.push(bridge);
    this.bridges.push(bridge);
    bridge.status.then((status) => {
      if (!this.bridges.includes(bridge)) return; // stopped on purpose
      this.bridges = this.bridges.filter((b) => b !== bridge);
      this.exits.push({
        pid: bridge.pid,
        code: status.code,
        atMs: Math.round(performance.now() - this.started),
      });
    });
    return bridge;
  }

  /** Sends `signal` to `bridge`, waits for its exit; a SIGTERM must end with status 0. */
  async stopBridge(bridge: BridgeProcess, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    this.bridges = this.bridges.filter((b) => b !== bridge);
    bridge.kill(signal);
    const status = await bridge.exit();
    if (signal === "SIGTERM" && status.code !== 0) {
      this.checks.push({ name: "SIGTERM exit status", ok: false, detail: `exited ${status.code}` });
    }
  }

  /** SIGKILLs the echo endpoint and starts it again on the same port. */
  async crashEcho(): Promise<void> {
    this.echo = await crashAndRestartEcho(this.echo!);
    this.processes.push(this.echo);
  }

  /** Starts the API stand-in's own messages (the from_ws direction), from index `from`. */
  async startApiSending(from = 1): Promise<void> {
    const { prefix, count, bytes, rate } = this.apiLoad!;
    await this.api!.send({ prefix, count, bytes, rate, from });
  }

  /** The highest index the API stand-in has sent (0: none). */
  async apiSent(): Promise<number> {
    return ((await this.api!.status()).sender?.next ?? 1) - 1;
  }

  /**
   * SIGKILLs the API stand-in and starts it again on the same port; returns the fault. Its own
   * sending is stopped first and what it sent awaited at the broker: frames still in a killed
   * process's buffers die with it, which is the API's loss, not the bridge's. Its counters are
   * kept (`apiSnapshots`), and the new process sends on from the next index.
   */
  async crashApi(label: string): Promise<Fault> {
    const api = this.api!;
    const load = this.load;
    if (this.apiLoad) {
      const last = ((await api.stop())?.next ?? 1) - 1;
      await load.until(() => load.fromApi!.distinct >= last, 30_000, `the API's ${last} messages in from_ws`);
    }
    this.apiSnapshots.push({
      sent: this.apiLoad ? await api.sent(true) : null,
      received: await api.received(load.tally.prefix, load.tally.count, true),
    });
    const fault = this.fault(label);
    await api.kill();
    this.api = await ApiProcess.start({ port: api.port, echo: api.echo });
    this.processes.push(this.api);
    const next = this.apiSnapshots.at(-1)!.sent?.next ?? 1;
    if (this.apiLoad && next <= this.apiLoad.count) await this.startApiSending(next);
    return fault;
  }
}

/** Runs `scenario` at `size`; never throws for a scenario failure (it is in the result). */
export async function runScenario(scenario: Scenario, suiteSize: ScenarioSize): Promise<ScenarioResult> {
  const size = scenario.resize?.(suiteSize) ?? suiteSize;
  const started = performance.now();
  await using stack = new AsyncDisposableStack();
  let node: PrivateBroker | null = null;
  let run: Run | null = null;
  let error: string | null = null;
  try {
    if (scenario.privateBroker) node = stack.use(await PrivateBroker.start());
    const url = node?.url ?? AMQP_URL;
    const broker = stack.use(await openBroker(url));
    const queue = (label: string) => broker.queue(`chaos-${scenario.id}-${label}`, scenario.queueOptions);
    run = new Run(scenario, size, {
      broker,
      url,
      node,
      toWs: await queue("to"),
      fromWs: await queue("from"),
    });
    const r = run;
    stack.defer(async () => {
      for (const proc of r.processes.reverse()) await proc[Symbol.asyncDispose]();
    });
    if (node) r.notes.privateNodeStartMs = node.startMs;
    await setUp(r, stack, url);
    await scenario.act(r);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  if (!run) return failedEarly(scenario, size, started, error!);
  return await conclude(run, started, error);
}

/** The endpoint (and proxy), the bridges, then the load: in the order they must be up. */
async function setUp(run: Run, stack: AsyncDisposableStack, url: string): Promise<void> {
  const { scenario, size } = run;
  let wsUrl: string | undefined;
  if (scenario.mode === "websocket") {
    if (scenario.api) {
      run.api = await ApiProcess.start({ echo: scenario.api.echo });
      run.processes.push(run.api);
      wsUrl = run.api.url;
    } else {
      run.echo = await startEcho();
      run.processes.push(run.echo);
      wsUrl = run.echo.url;
    }
    if (scenario.proxy) {
      run.proxy = stack.use(startProxy(run.api?.port ?? run.echo!.port));
      wsUrl = `ws://127.0.0.1:${run.proxy.port}`;
    }
  }
  const values = bridgeValues(
    { toWs: run.toWs, fromWs: run.fromWs, mqUrl: url, ...(wsUrl ? { wsUrl } : {}) },
    { ...SUITE_OVERRIDES, ...scenario.overrides?.(size) },
  );
  const ini = stack.use(await writeIni(values));
  run.ini = ini.path;
  if (!scenario.bridgesStartInAct) {
    for (let i = 0; i < (scenario.bridges ?? 1); i++) await run.startBridge();
  }
  run.load = stack.use(
    await Load.start({
      url,
      toWs: run.toWs,
      fromWs: run.fromWs,
      count: size.count,
      ratePerSec: size.ratePerSec,
      bodyBytes: scenario.bodyBytes ?? 100,
      ...(scenario.burst ? { burst: scenario.burst } : {}),
      ...(run.apiLoad ? { apiPrefix: run.apiLoad.prefix, apiCount: run.apiLoad.count } : {}),
      // Through a broker outage the load waits for the broker as long as the bridge must.
      ...(scenario.privateBroker ? { maxConnectAttempts: 1000, reconnectDelaySecs: 0.2 } : {}),
    }),
  );
  if (run.apiLoad && !run.apiLoad.startInAct) await run.startApiSending();
}

function failedEarly(scenario: Scenario, size: ScenarioSize, started: number, error: string): ScenarioResult {
  return {
    id: scenario.id,
    title: scenario.title,
    mode: scenario.mode,
    faults: [],
    directions: [],
    requested: size.count,
    sent: 0,
    received: 0,
    lost: 0,
    duplicates: 0,
    recoverMs: null,
    leftInToWs: 0,
    missing: [],
    checks: [],
    notes: {},
    bridgeErrors: [],
    error,
    expectsLoss: scenario.expectsLoss ?? false,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    ok: false,
  };
}
