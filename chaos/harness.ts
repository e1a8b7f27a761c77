/**
 * Runs one chaos scenario end to end, on the real broker with real
 * processes: two unique queues, the echo endpoint (WebSocket mode), an
 * optional TCP proxy in front of it, one or two bridge processes and the
 * load. The scenario's `act` breaks things while the load runs; then the
 * harness waits for every message to come back (with a deadline), stops the
 * bridges gracefully, takes what is left on from_ws, and counts.
 *
 * Time to recover, per fault: from the fault to the first receipt of a
 * message sent after that moment, so it includes restarting whatever was
 * killed and the bridge's reconnect. For a pause (the peer stops reading),
 * from the resume to the first message back at all.
 */
import { AMQP_URL, openBroker, type TestBroker } from "../tests/_broker.ts";
import { type BridgeProcess, bridgeValues, writeIni } from "../tests/_bridge.ts";
import { startProxy, type TcpProxy } from "../tests/_proxy.ts";
import { Load } from "./load.ts";
import { crashAndRestartEcho, type EchoProcess, startBridgeProcess, startEcho } from "./procs.ts";

/** How much load and how many faults. */
export interface ScenarioSize {
  count: number;
  ratePerSec: number;
  faults: number;
  /** How long to wait for the last messages to come back after sending ends. */
  endWaitMs: number;
}

/** One way of breaking the path. */
export interface Scenario {
  id: string;
  title: string;
  mode: "websocket" | "stub";
  bridges?: number;
  /** Put a pausable TCP proxy between the bridge and the echo endpoint. */
  proxy?: boolean;
  bodyBytes?: number;
  /** INI values on top of the suite's defaults. */
  overrides?: Record<string, string>;
  /** The load this scenario needs, given the suite's (default: the suite's). */
  resize?(size: ScenarioSize): ScenarioSize;
  /** Loss here is the documented WebSocket caveat being measured, not a failure. */
  expectsLoss?: boolean;
  act(run: Run): Promise<void>;
}

/** A check a scenario makes besides "nothing lost". */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** What a scenario measured. */
export interface ScenarioResult {
  id: string;
  title: string;
  mode: "websocket" | "stub";
  faults: { label: string; atMs: number; recoverMs: number | null }[];
  /** Messages the load was to send. */
  requested: number;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  /** Largest time to recover over the faults (ms); null when a fault never recovered. */
  recoverMs: number | null;
  /** Messages still in to_ws at the end (copies waiting to go through again). */
  leftInToWs: number;
  missing: number[];
  checks: Check[];
  notes: Record<string, unknown>;
  bridgeErrors: string[];
  error: string | null;
  expectsLoss: boolean;
  seconds: number;
  ok: boolean;
}

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
  readonly toWs: string;
  readonly fromWs: string;
  load!: Load;
  echo: EchoProcess | null = null;
  proxy: TcpProxy | null = null;
  /** The bridges running now, oldest first. */
  bridges: BridgeProcess[] = [];
  readonly faults: { label: string; at: number; anyBack: boolean }[] = [];
  readonly checks: Check[] = [];
  readonly notes: Record<string, unknown> = {};
  readonly processes: AsyncDisposable[] = [];
  readonly everyBridge: BridgeProcess[] = [];
  ini = "";

  constructor(scenario: Scenario, size: ScenarioSize, broker: TestBroker, toWs: string, fromWs: string) {
    this.scenario = scenario;
    this.size = size;
    this.broker = broker;
    this.toWs = toWs;
    this.fromWs = fromWs;
  }

  /** Resolves once the share `j / (faults + 1)` of the messages has been sent. */
  at(j: number): Promise<void> {
    return this.load.sent(Math.floor((this.size.count * j) / (this.size.faults + 1)));
  }

  /**
   * Records a fault now (or at `at`); returns its time. It has recovered when a
   * message sent after it is back, or with `anyBack`, when any message is.
   */
  fault(label: string, at = this.load.now(), anyBack = false): number {
    this.faults.push({ label, at, anyBack });
    return at;
  }

  /** Starts one more bridge process and waits until it is bridging. */
  async startBridge(): Promise<BridgeProcess> {
    const bridge = await startBridgeProcess(this.ini, this.scenario.mode === "stub");
    this.processes.push(bridge);
    this.everyBridge.push(bridge);
    this.bridges.push(bridge);
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
}

/** Runs `scenario` at `size`; never throws for a scenario failure (it is in the result). */
export async function runScenario(scenario: Scenario, suiteSize: ScenarioSize): Promise<ScenarioResult> {
  const size = scenario.resize?.(suiteSize) ?? suiteSize;
  const started = performance.now();
  await using stack = new AsyncDisposableStack();
  const broker = stack.use(await openBroker());
  const run = new Run(
    scenario,
    size,
    broker,
    await broker.queue(`chaos-${scenario.id}-to`),
    await broker.queue(`chaos-${scenario.id}-from`),
  );
  stack.defer(async () => {
    for (const proc of run.processes.reverse()) await proc[Symbol.asyncDispose]();
  });
  let error: string | null = null;
  try {
    let wsUrl: string | undefined;
    if (scenario.mode === "websocket") {
      run.echo = await startEcho();
      run.processes.push(run.echo);
      wsUrl = run.echo.url;
      if (scenario.proxy) {
        run.proxy = stack.use(startProxy(run.echo.port));
        wsUrl = `ws://127.0.0.1:${run.proxy.port}`;
      }
    }
    const values = bridgeValues({ toWs: run.toWs, fromWs: run.fromWs, ...(wsUrl ? { wsUrl } : {}) }, {
      ...SUITE_OVERRIDES,
      ...scenario.overrides,
    });
    const ini = stack.use(await writeIni(values));
    run.ini = ini.path;
    for (let i = 0; i < (scenario.bridges ?? 1); i++) await run.startBridge();
    run.load = stack.use(
      await Load.start({
        url: AMQP_URL,
        toWs: run.toWs,
        fromWs: run.fromWs,
        count: size.count,
        ratePerSec: size.ratePerSec,
        bodyBytes: scenario.bodyBytes ?? 100,
      }),
    );
    await scenario.act(run);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  return await conclude(run, started, error);
}

/** Waits for the stragglers, stops the bridges, collects what is left, counts. */
async function conclude(run: Run, started: number, error: string | null): Promise<ScenarioResult> {
  const { broker, scenario } = run;
  const load = run.load as Load | undefined; // unset when the scenario failed before the load started
  if (load) {
    if (error) load.stopSending(); // count what was sent
    const ms = run.size.endWaitMs;
    if (!scenario.expectsLoss && !await load.allBack(ms)) {
      error ??= `not every message came back within ${ms} ms of the last send`;
    }
    if (scenario.expectsLoss && !await load.lastBack(ms)) {
      error ??= `the last message sent did not come back within ${ms} ms`;
    }
  }
  for (const bridge of [...run.bridges]) await run.stopBridge(bridge, "SIGTERM");
  await load?.finish();
  const tally = load?.tally;
  for (const msg of await broker.drain(run.fromWs)) tally?.receive(msg.text.slice(0, 64), performance.now());
  const faults = run.faults.map((f) => {
    const ms = !tally ? NaN : f.anyBack ? tally.firstBackAfter(f.at) : tally.recoveryAfter(f.at);
    return { label: f.label, atMs: round(f.at - started), recoverMs: Number.isNaN(ms) ? null : round(ms) };
  });
  const recover = faults.map((f) => f.recoverMs);
  const lost = tally?.lost ?? 0;
  const result: ScenarioResult = {
    id: scenario.id,
    title: scenario.title,
    mode: scenario.mode,
    faults,
    requested: run.size.count,
    sent: tally?.sent ?? 0,
    received: tally?.distinct ?? 0,
    lost,
    duplicates: tally?.duplicates ?? 0,
    recoverMs: recover.includes(null) ? null : Math.max(0, ...(recover as number[])),
    leftInToWs: await broker.ready(run.toWs),
    missing: tally?.missing() ?? [],
    checks: run.checks,
    notes: {
      ...run.notes,
      bridgeWarnings: run.everyBridge.reduce((n, b) => n + b.lines.filter((l) => / WARN /.test(l)).length, 0),
      foreign: tally?.foreign ?? 0,
      republishedByLoad: load?.republished ?? 0,
    },
    bridgeErrors: run.everyBridge.flatMap((b) => b.lines.filter((l) => / (ERROR) /.test(l))).slice(0, 10),
    error,
    expectsLoss: scenario.expectsLoss ?? false,
    seconds: round((performance.now() - started) / 1000),
    ok: false,
  };
  result.ok = error === null && result.checks.every((c) => c.ok) && (lost === 0 || result.expectsLoss);
  return result;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
