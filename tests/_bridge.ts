/**
 * Test fixtures for the bridge itself: an INI file in a temporary
 * directory, the bridge run in-process (real broker session and WebSocket
 * client, log lines and metrics in memory), and the real CLI spawned as a
 * process with its output collected line by line.
 */
import { parseConfig } from "../lib/config.ts";
import { runBridge } from "../lib/bridge.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { Redactor } from "../lib/secret.ts";
import { createLogger, type LogRecord, MemorySink } from "../handlers/logging.ts";
import { MqSession } from "../handlers/mq.ts";
import { WsClient } from "../handlers/ws.ts";
import { AMQP_URL } from "./_broker.ts";
import { withDeadline } from "./_ws_server.ts";

/** Test credentials: recognisable, so a test can prove they never reach a log. */
export const TEST_CLIENT_SECRET = "5ec7e75ec7e75ec7e75ec7e75ec7e75e";
export const TEST_PASSWORD = "pa55-w0rd-never-logged";

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
  stop(): Promise<void>;
}

/** Runs the bridge in-process with `values` (`stub` for -X, `debug` for -d); waits until it is bridging. */
export async function startBridge(
  values: Record<string, string>,
  { stub = false, debug = false } = {},
): Promise<InProcessBridge> {
  const config = parseConfig({ source: "test", values: new Map(Object.entries(values)) }, {
    ws: !stub,
    logs: false,
    metrics: false,
  });
  const sink = new WatchedSink();
  const log = createLogger({ sink, info: true, debug, redactor: new Redactor() });
  const metrics = new MetricsRegistry();
  const name = `test-bridge-${crypto.randomUUID()}`;
  const mq = new MqSession({
    url: config.mq.url,
    displayUrl: config.mq.displayUrl,
    queues: [config.mq.queueToWs, config.mq.queueFromWs],
    prefetch: config.mq.prefetch,
    heartbeatSecs: config.mq.heartbeatSecs,
    maxConnectAttempts: config.mq.maxConnectAttempts,
    reconnectDelaySecs: config.mq.reconnectDelaySecs,
    connectionName: name,
  }, { log: log.child("mq"), metrics });
  const controller = new AbortController();
  const ws = config.ws;
  const done = runBridge({
    config,
    mq,
    createWs: stub || !ws
      ? null
      : (handlers) => new WsClient(ws, handlers, { log: log.child("ws"), metrics }),
    log,
    metrics,
  }, controller.signal);
  done.catch(() => {});
  await Promise.race([sink.waitFor(/Bridging/), done]);
  const stop = async () => {
    controller.abort();
    await done.catch(() => {});
  };
  return { sink, metrics, name, done, stop, [Symbol.asyncDispose]: stop };
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

/** The real mq2wsbridge CLI as a child process; output is collected line by line. */
export class BridgeProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  readonly #reading: Promise<void>;
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(args: string[], options: { program?: string; env?: Record<string, string> } = {}) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-check",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        options.program ?? MAIN,
        ...args,
      ],
      env: { NO_COLOR: "1", ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#reading = Promise.all([this.#read(this.#child.stdout), this.#read(this.#child.stderr)]).then(
      () => {},
    );
    this.status = this.#child.status;
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** All output so far, one string. */
  get output(): string {
    return this.lines.join("\n");
  }

  /** Resolves with the first output line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, ms = 15_000): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return withDeadline(
      new Promise((resolve) => this.#waiters.push({ pattern, resolve })),
      ms,
      `output ${pattern}`,
    );
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
  }

  /** Waits for the exit (killing it after `ms`) and for all output to be read. */
  async exit(ms = 20_000): Promise<Deno.CommandStatus> {
    const timer = setTimeout(() => this.kill("SIGKILL"), ms);
    try {
      const status = await this.status;
      await this.#reading;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) this.#line(line);
    }
    if (rest) this.#line(rest);
  }

  #line(line: string): void {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((w) => !(w.pattern.test(line) && (w.resolve(line), true)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.exit();
  }
}

/** Spawns `main.ts` with `args` (and extra environment variables). */
export function spawnBridge(args: string[], env?: Record<string, string>): BridgeProcess {
  return new BridgeProcess(args, env ? { env } : {});
}
