/**
 * The chaos suite's vocabulary: what a scenario declares, how big a run is,
 * and what a run measured, per direction. Types only, shared by the
 * harness, the scenarios and the report.
 */
import type { Options } from "amqplib";
import type { ApiReceived, ApiSent } from "./api_process.ts";
import type { Run } from "./harness.ts";

/** How much load and how many faults. */
export interface ScenarioSize {
  count: number;
  ratePerSec: number;
  faults: number;
  /** How long to wait for the last messages to come back after sending ends. */
  endWaitMs: number;
  /** The CI form (shorter faults, smaller loads) rather than the full one. */
  quick: boolean;
}

/** What the API stand-in sends of its own accord: the from_ws direction. */
export interface ApiLoad {
  count: number;
  bytes: number;
  /** Messages per second; 0 = back to back. */
  rate: number;
  /** `act` starts it (`run.startApiSending()`); otherwise it starts with the load. */
  startInAct?: boolean;
}

/** One way of breaking the path. */
export interface Scenario {
  id: string;
  title: string;
  mode: "websocket" | "stub";
  bridges?: number;
  /** `act` starts the bridges (`run.startBridge()`), e.g. after a backlog was built. */
  bridgesStartInAct?: boolean;
  /** The API stand-in (tools/api_server.ts) instead of the echo server; `echo` sends everything back. */
  api?: { echo: boolean };
  /** Messages the API stand-in sends itself, at this size. */
  fromApi?(size: ScenarioSize): ApiLoad;
  /** Run on a private RabbitMQ node (chaos/private_broker.ts): the fault would disturb the shared one. */
  privateBroker?: boolean;
  /** How the test declares both queues beforehand (default: durable classic). */
  queueOptions?: Options.AssertQueue;
  /** Put a pausable TCP proxy between the bridge and the WebSocket endpoint. */
  proxy?: boolean;
  bodyBytes?: number;
  /** The first this many to_ws messages go back to back (a backlog), the rest at the rate. */
  burst?: number;
  /** INI values on top of the suite's defaults, at this size. */
  overrides?(size: ScenarioSize): Record<string, string>;
  /** The load this scenario needs, given the suite's (default: the suite's). */
  resize?(size: ScenarioSize): ScenarioSize;
  /** Loss here is the documented WebSocket caveat being measured, not a failure (every direction). */
  expectsLoss?: boolean;
  /** Directions whose loss is a documented window, reported, not a failure. */
  lossExpectedIn?: readonly DirectionName[];
  act(run: Run): Promise<void>;
}

/** A check a scenario makes besides "nothing lost". */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** A fault as `act` records it (monotonic ms). */
export interface Fault {
  label: string;
  at: number;
  /** Recovery counts from the first message back at all, not from one sent after the fault. */
  anyBack: boolean;
  /** When the fault was undone (outage ended, process thawed); recovery counts from here. */
  repairedAt: number | null;
}

/**
 * The paths a message is counted on: `round_trip` (load -> to_ws -> bridge ->
 * endpoint echo -> bridge -> from_ws -> load), `to_ws` (load -> to_ws ->
 * bridge -> API, counted by the API stand-in), `from_ws` (API stand-in ->
 * bridge -> from_ws -> load).
 */
export type DirectionName = "round_trip" | "to_ws" | "from_ws";

/** What one direction measured. */
export interface DirectionResult {
  name: DirectionName;
  requested: number;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  missing: number[];
  /** Largest time to recover over the faults (ms); null when a fault never recovered. */
  recoverMs: number | null;
  /** Receipts that match no message sent (another run's, or an index never sent). */
  foreign: number;
  expectsLoss: boolean;
}

/** What an API stand-in process had sent and received when it was killed. */
export interface ApiSnapshot {
  sent: ApiSent | null;
  received: ApiReceived;
}

/** What a scenario measured. */
export interface ScenarioResult {
  id: string;
  title: string;
  mode: "websocket" | "stub";
  faults: {
    label: string;
    atMs: number;
    repairedAtMs?: number;
    recoverMs: number | null;
    byDirection?: Partial<Record<DirectionName, number | null>>;
  }[];
  /** Per direction; the totals below count each message once (directions.ts eachMessageOnce). */
  directions: DirectionResult[];
  /** Messages the load (and the API) were to send. */
  requested: number;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  /** Largest time to recover over the faults and directions (ms); null when one never recovered. */
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
