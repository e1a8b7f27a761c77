/**
 * mq2wsbridge: moves messages between an AMQP queue pair and a WebSocket
 * API, both ways. This file is the command line: it parses arguments, loads
 * the configuration (INI file or Parameter Store), opens logging (stdout or
 * CloudWatch Logs) and metrics (CloudWatch), runs the bridge until a signal,
 * `--runsecs` or a failure, and turns the outcome into an exit status.
 */
import { type BridgeCli, HELP, parseBridgeArgs, USAGE, UsageError } from "./lib/bridge_args.ts";
import { type BridgeConfig, ConfigError, parseConfig, type RawConfig } from "./lib/config.ts";
import { readApiCa, readBrokerCa, registerConfigSecrets } from "./lib/config_secrets.ts";
import { runBridge } from "./lib/bridge.ts";
import { MetricsRegistry } from "./lib/metrics.ts";
import { Redactor } from "./lib/secret.ts";
import { VERSION } from "./lib/version.ts";
import { readIniFile } from "./handlers/config.ts";
import { imdsInstanceId, type ImdsOptions, imdsRegion } from "./handlers/imds.ts";
import {
  consoleSink,
  createLogger,
  DeferredSink,
  errorText,
  type Logger,
  type LogSink,
} from "./handlers/logging.ts";
import type { MetricsPublisher } from "./handlers/metrics.ts";
import { MqGaveUpError, MqSession, MqSetupError } from "./handlers/mq.ts";
import { WsClient, WsGaveUpError } from "./handlers/ws.ts";

// The AWS handlers (Parameter Store, CloudWatch Logs and metrics) are imported only when -s, -l, -m
// or -M asks for them: the AWS SDK they load costs about 19 MiB of resident memory otherwise
// unused. Literal specifiers keep them in the graph `deno compile` embeds.
const ssm = () => import("./handlers/ssm.ts");

/** Exit statuses (sysexits.h where one fits). */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, UNAVAILABLE: 69, CONFIG: 78 } as const;

const SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGHUP"];

/** Runs the command line; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let cli: BridgeCli;
  try {
    cli = parseBridgeArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    printErr(`${USAGE}\nmq2wsbridge: error: ${err.message}`);
    return EXIT.USAGE;
  }
  if (cli.help) return print(HELP), EXIT.OK;
  if (cli.version) return print(`mq2wsbridge ${VERSION}`), EXIT.OK;

  const redactor = new Redactor();
  const early = new DeferredSink(); // where lines go is known only once the configuration is
  const log = createLogger({ sink: early, info: cli.verbose, debug: cli.debug, redactor });
  let sink: LogSink & { close?: () => Promise<void> } = consoleSink(cli.cloudwatchLogs ? "stderr" : "stdout");
  try {
    if (cli.migrateConfig) {
      early.attach(sink);
      return await migrate(cli, log, redactor);
    }
    const config = await loadConfig(cli, log, redactor);
    if (cli.cloudwatchLogs && !cli.checkConfig) sink = await openLogs(config);
    early.attach(sink);
    if (cli.checkConfig) return print(`Configuration from ${config.source} is valid`), EXIT.OK;
    return await serve(cli, config, log);
  } catch (err) {
    if (err instanceof ConfigError) {
      printErr(`mq2wsbridge: ${redactor.redact(err.message)}`);
      return EXIT.CONFIG;
    }
    printErr(`mq2wsbridge: ${redactor.redact(errorText(err))}`);
    return EXIT.UNAVAILABLE; // Parameter Store or AWS unreachable: worth a restart
  } finally {
    early.attach(sink); // lines held so far, if nothing else took them
    await sink.flush();
    await sink.close?.();
  }
}

/** Runs the bridge until a signal, --runsecs, or a side gives up. */
async function serve(cli: BridgeCli, config: BridgeConfig, log: Logger): Promise<number> {
  const controller = new AbortController();
  const onSignal = (signal: Deno.Signal) => () => {
    log.info(`${signal} received; shutting down`);
    controller.abort();
  };
  const listeners = SIGNALS.map((signal) => [signal, onSignal(signal)] as const);
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  const timer = cli.runSecs > 0 ? setTimeout(() => controller.abort(), cli.runSecs * 1000) : undefined;
  const metrics = new MetricsRegistry();
  let publisher: MetricsPublisher | null = null;
  log.info(`mq2wsbridge ${VERSION} starting`, { config: config.source, stub: cli.websocketStub });
  try {
    if (cli.cloudwatchMetrics) publisher = await openMetrics(config, metrics, log);
    const mq = new MqSession({
      url: config.mq.url,
      displayUrl: config.mq.displayUrl,
      caPem: await readBrokerCa(config),
      queues: [config.mq.queueToWs, config.mq.queueFromWs],
      prefetch: config.mq.prefetch,
      heartbeatSecs: config.mq.heartbeatSecs,
      maxConnectAttempts: config.mq.maxConnectAttempts,
      reconnectDelaySecs: config.mq.reconnectDelaySecs,
      connectionName: `mq2wsbridge@${Deno.hostname()} pid ${Deno.pid}`,
    }, { log: log.child("mq"), metrics });
    const ws = config.ws;
    const apiCa = await readApiCa(config);
    await runBridge({
      config,
      mq,
      createWs: ws && !cli.websocketStub
        ? (handlers) => new WsClient(ws, handlers, { log: log.child("ws"), metrics, caPem: apiCa })
        : null,
      log,
      metrics,
    }, controller.signal);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return failure(err, log);
  } finally {
    clearTimeout(timer);
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    await publisher?.close(); // the last values
  }
}

/** Reads the INI file, or Parameter Store with -s; validates for what the flags need. */
async function loadConfig(cli: BridgeCli, log: Logger, redactor: Redactor): Promise<BridgeConfig> {
  let raw: RawConfig;
  let warnings: string[];
  if (cli.ssm) {
    const { readSsmConfig, resolveRegion } = await ssm();
    const { region, from } = await resolveRegion({
      explicit: cli.ssmRegion,
      instanceRegion: () => imdsRegion(imds()),
    });
    log.info(`Reading configuration from Parameter Store in ${region} (region from ${from})`);
    ({ raw, warnings } = await readSsmConfig({ region }));
  } else {
    ({ raw, warnings } = await readIniFile(cli.config));
  }
  registerConfigSecrets(raw, redactor);
  for (const warning of warnings) log.warn(warning);
  return parseConfig(raw, {
    ws: !cli.websocketStub,
    logs: cli.cloudwatchLogs,
    metrics: cli.cloudwatchMetrics,
  });
}

/** -M: copies the (valid) INI file into Parameter Store, verifies, prints the names written. */
async function migrate(cli: BridgeCli, log: Logger, redactor: Redactor): Promise<number> {
  const { raw, warnings } = await readIniFile(cli.config);
  registerConfigSecrets(raw, redactor);
  for (const warning of warnings) log.warn(warning);
  parseConfig(raw, { ws: !cli.websocketStub, logs: cli.cloudwatchLogs, metrics: cli.cloudwatchMetrics });
  const { migrateToSsm, resolveRegion } = await ssm();
  const { region } = await resolveRegion({
    explicit: cli.ssmRegion,
    instanceRegion: () => imdsRegion(imds()),
  });
  const { written, skipped } = await migrateToSsm(raw, { region });
  print(
    `Migrated ${written.length} parameters from ${cli.config} to Parameter Store in ${region}, verified:`,
  );
  for (const name of written) print(`  ${name}`);
  if (skipped.length > 0) print(`Skipped (empty in the INI file): ${skipped.join(", ")}`);
  return EXIT.OK;
}

async function openLogs(config: BridgeConfig) {
  const { openCloudWatchLogs } = await import("./handlers/cloudwatch_logs.ts");
  const cw = config.cloudwatch;
  return await openCloudWatchLogs({
    region: cw.region!,
    logGroup: cw.logGroup!,
    logStream: cw.logStream!,
    retentionDays: cw.retentionDays,
  });
}

async function openMetrics(
  config: BridgeConfig,
  registry: MetricsRegistry,
  log: Logger,
): Promise<MetricsPublisher> {
  const { startMetricsPublisher } = await import("./handlers/metrics.ts");
  const cw = config.cloudwatch;
  return await startMetricsPublisher({
    region: cw.region!,
    namespace: cw.metricsNamespace!,
    resolutionSecs: cw.metricsResolutionSecs,
    source: registry,
    log: log.child("metrics"),
    instanceId: () => imdsInstanceId(imds()),
  });
}

/** Instance metadata settings, the standard AWS way. */
function imds(): ImdsOptions {
  return {
    endpoint: Deno.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
    disabled: ["1", "true"].includes(Deno.env.get("AWS_EC2_METADATA_DISABLED")?.toLowerCase() ?? ""),
  };
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

function print(text: string): void {
  // deno-lint-ignore no-console
  console.log(text);
}

function printErr(text: string): void {
  // deno-lint-ignore no-console
  console.error(text);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
