/**
 * Test fixtures for the bridge itself: an INI file in a temporary
 * directory, the bridge run in-process (real broker session and WebSocket
 * client, log lines and metrics in memory), and the real CLI spawned as a
 * process with its output collected line by line.
 */
import { type BridgeConfig, parseConfig, type WsSettings } from "../config/config.ts";
import { runBridge } from "../bridge/bridge.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { Redactor, Secret } from "../lib/secret.ts";
import { createLogger, type LogRecord, MemorySink } from "../lib/log.ts";
import { bridgeSessions } from "../handlers/mq/session.ts";
import { WsClient } from "../handlers/ws/client.ts";
import { AMQP_URL } from "./_broker.ts";
import { withDeadline } from "./_ws_server.ts";
import { Program } from "../tools/program.ts";
import { permissionsOf } from "../scripts/programs.ts";

/** Test credentials: recognisable, so a test can prove they never reach a log. */
export const TEST_CLIENT_SECRET = "5ec7e75ec7e75ec7e75ec7e75ec7e75e";
export const TEST_PASSWORD = "pa55-w0rd-never-logged";

/** WebSocket client settings for `apiHost` with short timings, for tests of the handler itself. */
export function wsSettings(apiHost: string, overrides: Partial<WsSettings> = {}): WsSettings {
  return {
    apiHost,
    apiUri: "/path/to/ws",
    clientId: "test-client",
    clientSecret: new Secret(TEST_CLIENT_SECRET),
    pingIntervalSecs: 0,
    maxConnectAttempts: 3,
    attemptWindowSecs: 1,
    connectTimeoutSecs: 2,
    ackDelayMs: 0,
    maxBufferedBytes: 1_048_576,
    maxMessageBytes: 67_108_864,
    noDelay: true,
    coalesceMs: 2,
    caFile: null,
    ...overrides,
  };
}

/** `section.key` values for a bridge talking to the local broker and `wsUrl`. */
export function bridgeValues(
  opts: { toWs: string; fromWs: string; wsUrl?: string; mqUrl?: string },
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    "ws_api.client_id": "test-client",
    "ws_api.client_secret": TEST_CLIENT_SECRET,
    "ws_api.api_host": opts.wsUrl ?? "ws://127.0.0.1:9",
    "ws_api.api_uri": "/bridge",
    "aws_mq.mq_url": opts.mqUrl ?? AMQP_URL,
    "aws_mq.mq_qname_to_ws": opts.toWs,
    "aws_mq.mq_qname_from_ws": opts.fromWs,
    "aws_mq.mq_reconnect_delay_secs": "0.2",
    ...overrides,
  };
}

/** `values` (from bridgeValues) as a test's configuration: WebSocket mode unless `ws` is false. */
export function testConfig(values: Record<string, string>, { ws = true } = {}): BridgeConfig {
  return parseConfig({ source: "test", values: new Map(Object.entries(values)) }, {
    ws,
    logs: false,
    metrics: false,
  });
}

/** A log sink whose lines a test can await. */
export class WatchedSink extends MemorySink {
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  override write(line: string, record: LogRecord): void {
    super.write(line, record);
    this.#waiters = this.#waiters.filter((w) => !(w.pattern.test(line) && (w.resolve(line), true)));
  }

  /** Resolves with the first line (past or future) matching `pattern`. */
  waitFor(pattern: RegExp, ms = 10_000): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return withDeadline(
      new Promise((resolve) => this.#waiters.push({ pattern, resolve })),
      ms,
      `log ${pattern}`,
    );
  }
}

/** A bridge running in this process; dispose stops it. */
export interface InProcessBridge extends AsyncDisposable {
  sink: WatchedSink;
  metrics: MetricsRegistry;
  /** Unique AMQP connection name, for closeConnectionsNamed(). */
  name: string;
  /** Settles when runBridge returns or throws. */
  done: Promise<void>;
  /** False once runBridge has returned or thrown. */
  readonly running: boolean;
  stop(): Promise<void>;
}

/** Runs the bridge in-process with `values` (`stub` for -X, `debug` for -d); waits until it is bridging. */
export async function startBridge(
  values: Record<string, string>,
  { stub = false, debug = false } = {},
): Promise<InProcessBridge> {
  const config = testConfig(values, { ws: !stub });
  const sink = new WatchedSink();
  const log = createLogger({ sink, info: true, debug, redactor: new Redactor() });
  const metrics = new MetricsRegistry();
  const name = `test-bridge-${crypto.randomUUID()}`;
  const sessions = bridgeSessions(config.mq, { log, metrics, name });
  const controller = new AbortController();
  const ws = config.ws;
  const done = runBridge({
    config,
    ...sessions,
    createWs: stub || !ws
      ? null
      : (handlers) => new WsClient(ws, handlers, { log: log.child("ws"), metrics }),
    log,
    metrics,
  }, controller.signal);
  let running = true;
  done.catch(() => {}).finally(() => running = false);
  await Promise.race([sink.waitFor(/Bridging/), done]);
  const stop = async () => {
    controller.abort();
    await done.catch(() => {});
  };
  return {
    sink,
    metrics,
    name,
    done,
    get running() {
      return running;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** An INI file in a fresh temporary directory (mode 0600); removed at dispose. */
export async function writeIni(values: Record<string, string>, mode = 0o600): Promise<
  AsyncDisposable & { path: string; dir: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-test-" });
  const path = `${dir}/mq2wsbridge.ini`;
  const sections = new Map<string, string[]>();
  for (const [key, value] of Object.entries(values)) {
    const [section, name] = key.split(".") as [string, string];
    sections.set(section, [...(sections.get(section) ?? []), `${name} = ${value}`]);
  }
  const text = [...sections].map(([section, lines]) => `[${section}]\n${lines.join("\n")}\n`).join("\n");
  await Deno.writeTextFile(path, text, { mode });
  await Deno.chmod(path, mode);
  return { path, dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PERMISSIONS = permissionsOf("mq2wsbridge");

/** The real mq2wsbridge CLI (or another script, `program`) as a child process. */
export class BridgeProcess extends Program {
  constructor(args: string[], options: { program?: string; env?: Record<string, string> } = {}) {
    super(
      Deno.execPath(),
      ["run", "--no-check", ...PERMISSIONS, options.program ?? MAIN, ...args],
      options.env ? { env: options.env } : {},
    );
  }
}

/** Spawns `main.ts` with `args` (and extra environment variables). */
export function spawnBridge(args: string[], env?: Record<string, string>): BridgeProcess {
  return new BridgeProcess(args, env ? { env } : {});
}
