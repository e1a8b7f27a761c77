/**
 * mq2wsbridge: moves messages between an AMQP queue pair and a WebSocket
 * API, both ways. This file is the command line: it parses arguments, loads
 * the configuration, builds the parts and runs the bridge until a signal,
 * `--runsecs`, or a failure, then turns the outcome into an exit status.
 */
import { HELP, parseBridgeArgs, USAGE, UsageError } from "./lib/bridge_args.ts";
import { type BridgeConfig, ConfigError, parseConfig, type RawConfig } from "./lib/config.ts";
import { SECRET_KEYS } from "./lib/config_keys.ts";
import { runBridge } from "./lib/bridge.ts";
import { MetricsRegistry } from "./lib/metrics.ts";
import { Redactor } from "./lib/secret.ts";
import { VERSION } from "./lib/version.ts";
import { readIniFile } from "./handlers/config.ts";
import { consoleSink, createLogger, errorText, type Logger } from "./handlers/logging.ts";
import { MqGaveUpError, MqSession, MqSetupError } from "./handlers/mq.ts";
import { WsClient, WsGaveUpError } from "./handlers/ws.ts";

/** Exit statuses (sysexits.h where one fits). */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, UNAVAILABLE: 69, CONFIG: 78 } as const;

const SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGHUP"];

/** Runs the service; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let cli;
  try {
    cli = parseBridgeArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    printErr(`${USAGE}\nmq2wsbridge: error: ${err.message}`);
    return EXIT.USAGE;
  }
  if (cli.help) return print(HELP), EXIT.OK;
  if (cli.version) return print(`mq2wsbridge ${VERSION}`), EXIT.OK;
  const aws = [
    cli.ssm && "-s",
    cli.migrateConfig && "-M",
    cli.ssmRegion && "-r",
    cli.cloudwatchLogs && "-l",
    cli.cloudwatchMetrics && "-m",
  ].filter(Boolean);
  if (aws.length > 0) {
    printErr(`mq2wsbridge: error: ${aws.join(", ")}: AWS support (SSM, CloudWatch) is not available yet`);
    return EXIT.USAGE;
  }

  const redactor = new Redactor();
  const log = createLogger({ sink: consoleSink(), info: cli.verbose, debug: cli.debug, redactor });
  let config: BridgeConfig;
  let caPem: string | null = null;
  try {
    const { raw, warnings } = await readIniFile(cli.config);
    registerSecrets(raw, redactor);
    for (const warning of warnings) log.warn(warning);
    config = parseConfig(raw, {
      ws: !cli.websocketStub,
      logs: cli.cloudwatchLogs,
      metrics: cli.cloudwatchMetrics,
    });
    caPem = await readCa(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    printErr(`mq2wsbridge: ${redactor.redact(err.message)}`);
    return EXIT.CONFIG;
  }
  if (cli.checkConfig) return print(`Configuration from ${config.source} is valid`), EXIT.OK;

  const controller = new AbortController();
  const onSignal = () => {
    log.info("Signal received; shutting down");
    controller.abort();
  };
  for (const signal of SIGNALS) Deno.addSignalListener(signal, onSignal);
  const timer = cli.runSecs > 0 ? setTimeout(() => controller.abort(), cli.runSecs * 1000) : undefined;
  const metrics = new MetricsRegistry();
  log.info(`mq2wsbridge ${VERSION} starting`, { config: config.source, stub: cli.websocketStub });
  try {
    const mq = new MqSession({
      url: config.mq.url,
      displayUrl: config.mq.displayUrl,
      caPem,
      queues: [config.mq.queueToWs, config.mq.queueFromWs],
      prefetch: config.mq.prefetch,
      heartbeatSecs: config.mq.heartbeatSecs,
      maxConnectAttempts: config.mq.maxConnectAttempts,
      reconnectDelaySecs: config.mq.reconnectDelaySecs,
      connectionName: `mq2wsbridge@${Deno.hostname()} pid ${Deno.pid}`,
    }, { log: log.child("mq"), metrics });
    const ws = config.ws;
    await runBridge({
      config,
      mq,
      createWs: ws && !cli.websocketStub
        ? (handlers) => new WsClient(ws, handlers, { log: log.child("ws"), metrics })
        : null,
      log,
      metrics,
    }, controller.signal);
    return EXIT.OK;
  } catch (err) {
    return failure(err, log);
  } finally {
    clearTimeout(timer);
    for (const signal of SIGNALS) Deno.removeSignalListener(signal, onSignal);
  }
}

/** Maps a fatal error to an exit status, after logging it. */
function failure(err: unknown, log: Logger): number {
  if (err instanceof MqSetupError) {
    log.error(`Stopping: ${errorText(err)}`);
    return EXIT.CONFIG;
  }
  if (err instanceof MqGaveUpError || err instanceof WsGaveUpError) {
    log.error(`Stopping: ${errorText(err)}`);
    return EXIT.UNAVAILABLE;
  }
  log.error(`Stopping after an unexpected error: ${errorText(err)}`);
  return EXIT.FAILURE;
}

/** Every secret value of the configuration is scrubbed from every log line. */
function registerSecrets(raw: RawConfig, redactor: Redactor): void {
  for (const key of SECRET_KEYS) {
    const value = raw.values.get(key);
    if (value === undefined) continue;
    redactor.add(value);
    if (key === "aws_mq.mq_url") {
      const password = URL.canParse(value) ? new URL(value).password : "";
      if (password) redactor.add(decodeURIComponent(password));
    }
  }
}

async function readCa(config: BridgeConfig): Promise<string | null> {
  if (config.mq.caFile === null) return null;
  try {
    return await Deno.readTextFile(config.mq.caFile);
  } catch (err) {
    throw new ConfigError(config.source, [
      `aws_mq.mq_ca_file: cannot read "${config.mq.caFile}" (${errorText(err)})`,
    ]);
  }
}

function print(text: string): void {
  // deno-lint-ignore no-console
  console.log(text);
}

function printErr(text: string): void {
  // deno-lint-ignore no-console
  console.error(text);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
