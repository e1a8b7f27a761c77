/**
 * mq2wsbridge: moves messages between an AMQP queue pair and a WebSocket
 * API, both ways. This file is the command line: it parses arguments, loads
 * the configuration (INI file or Parameter Store), opens logging (stdout or
 * CloudWatch Logs) and metrics (CloudWatch), runs the bridge until a signal,
 * `--runsecs` or a failure, and turns the outcome into an exit status.
 */
import { type BridgeCli, HELP, parseBridgeArgs, USAGE, UsageError } from "./config/bridge_args.ts";
import { type BridgeConfig, ConfigError, parseConfig, type RawConfig } from "./config/config.ts";
import { readApiCa, readBrokerCa, registerConfigSecrets, resolveConfig } from "./config/secrets.ts";
import { longTimeout } from "./lib/long_timer.ts";
import { runBridge } from "./bridge/bridge.ts";
import {
  FROM_WS_RECEIVED_TOTAL,
  MetricsRegistry,
  MQ_CONNECTION_ATTEMPTS_TOTAL,
  TO_WS_TOTAL,
  WS_CONNECTION_ATTEMPTS_TOTAL,
} from "./lib/metrics.ts";
import { startHeapTrimmer } from "./lib/heap_trim.ts";
import { systemTimers } from "./lib/clock.ts";
import { BridgeHealth } from "./bridge/health.ts";
import { type HttpEndpoint, HttpListenError, openHttpEndpoint } from "./handlers/http/server.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./handlers/http/prometheus.ts";
import { readProcessSample } from "./handlers/http/process_metrics.ts";
import { Redactor } from "./lib/secret.ts";
import { AwsPermissionError } from "./handlers/aws/errors.ts";
import { buildInfo, VERSION, versionLine } from "./lib/version.ts";
import { imdsOptionsFromEnv as imds, readIniFile } from "./config/ini_file.ts";
import { imdsInstanceId, imdsRegion } from "./handlers/aws/imds.ts";
import {
  consoleSink,
  createLogger,
  DeferredSink,
  errorText,
  formatRecord,
  type LogFormat,
  type Logger,
  type LogSink,
} from "./lib/log.ts";
import type { MetricsPublisher } from "./handlers/aws/cloudwatch_metrics.ts";
import { bridgeSessions, MqAccessError, MqGaveUpError, MqSetupError } from "./handlers/mq/session.ts";
import { proxyEnvFrom, proxyProblemFor } from "./handlers/ws/http_proxy.ts";
import { WsClient, WsGaveUpError } from "./handlers/ws/client.ts";
import { print, printErr } from "./lib/print.ts";

// The AWS handlers (Parameter Store, CloudWatch Logs and metrics) are imported only when -s, -l, -m
// or -M asks for them: the AWS SDK they load costs about 19 MiB of resident memory otherwise
// unused. Literal specifiers keep them in the graph `deno compile` embeds.
const ssm = () => import("./handlers/aws/ssm.ts");

/**
 * Exit statuses (sysexits.h where one fits). NOPERM: credentials or a
 * permission refused (an IAM action, a KMS key, the broker's login), which a
 * restart cannot fix, so the unit does not restart on it.
 */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, UNAVAILABLE: 69, NOPERM: 77, CONFIG: 78 } as const;

/**
 * After the bridge has stopped (its drain takes at most 10 s), metrics and
 * logs together get 5 s whatever the AWS endpoints do, so SIGTERM to exit
 * stays within 15 s, well inside the unit's TimeoutStopSec=30s. Metrics go
 * first (their last line is logged), logs get the rest; lines CloudWatch has
 * not taken by then are written to standard error.
 */
const AWS_SHUTDOWN_MS = 5_000;
const METRICS_CLOSE_MS = 2_000;

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
  if (cli.version) return print(versionLine("mq2wsbridge")), EXIT.OK;

  const redactor = new Redactor();
  const early = new DeferredSink(); // where lines go is known only once the configuration is
  // The format is the flag's, else text until the configuration names one (service.log_format).
  const levels = { info: cli.verbose, debug: cli.debug, redactor };
  const log = createLogger({ sink: early, ...levels, format: cli.logFormat ?? "text" });
  let sink: LogSink & { close?: (timeoutMs: number) => Promise<void> } = consoleSink(
    cli.cloudwatchLogs ? "stderr" : "stdout",
  );
  const stopped = { at: 0 }; // when the bridge stopped; the AWS shutdown budget counts from there
  try {
    if (cli.migrateConfig) {
      early.attach(sink);
      return await migrate(cli, log, redactor);
    }
    const config = await loadConfig(cli, log, redactor);
    const format = cli.logFormat ?? config.service.logFormat;
    if (cli.cloudwatchLogs && !cli.checkConfig) sink = await openLogs(config, format);
    // Lines held so far are written again in the configured format.
    early.attach(
      sink,
      format === (cli.logFormat ?? "text") ? undefined : (r) => formatRecord(r, format, redactor),
    );
    if (cli.checkConfig) return print(`Configuration from ${config.source} is valid`), EXIT.OK;
    return await serve(cli, config, createLogger({ sink: early, ...levels, format }), stopped);
  } catch (err) {
    if (err instanceof ConfigError) {
      printErr(`mq2wsbridge: ${redactor.redact(err.message)}`);
      return EXIT.CONFIG;
    }
    if (err instanceof AwsPermissionError) {
      printErr(`mq2wsbridge: ${redactor.redact(err.message)}`);
      return EXIT.NOPERM; // a restart cannot fix IAM: the operator restarts after fixing it
    }
    printErr(`mq2wsbridge: ${redactor.redact(errorText(err))}`);
    return EXIT.UNAVAILABLE; // Parameter Store or AWS unreachable: worth a restart
  } finally {
    early.attach(sink); // lines held so far, if nothing else took them
    if (sink.close) {
      const left = stopped.at ? stopped.at + AWS_SHUTDOWN_MS - Date.now() : AWS_SHUTDOWN_MS;
      await sink.close(Math.max(1_000, left));
    } else {
      await sink.flush();
    }
  }
}

/** Runs the bridge until a signal, --runsecs, or a side gives up. */
async function serve(
  cli: BridgeCli,
  config: BridgeConfig,
  log: Logger,
  stopped: { at: number },
): Promise<number> {
  const controller = new AbortController();
  const onSignal = (signal: Deno.Signal) => () => {
    log.info(`${signal} received; shutting down`);
    controller.abort();
  };
  const listeners = SIGNALS.map((signal) => [signal, onSignal(signal)] as const);
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  // Not setTimeout: it fires at once for more than 24.8 days (--runsecs 2592000).
  const timer = cli.runSecs > 0 ? longTimeout(() => controller.abort(), cli.runSecs * 1000) : undefined;
  const metrics = new MetricsRegistry();
  const health = new BridgeHealth({
    stub: cli.websocketStub,
    metrics,
    attempts: (side) =>
      metrics.counter(side === "mq" ? MQ_CONNECTION_ATTEMPTS_TOTAL : WS_CONNECTION_ATTEMPTS_TOTAL),
  });
  let publisher: MetricsPublisher | null = null;
  let endpoint: HttpEndpoint | null = null;
  log.info(`mq2wsbridge ${VERSION} starting`, { config: config.source, stub: cli.websocketStub });
  const carried = () => metrics.counter(TO_WS_TOTAL) + metrics.counter(FROM_WS_RECEIVED_TOTAL);
  const trimmer = startHeapTrimmer(carried, { log: log.child("memory"), timers: systemTimers });
  try {
    endpoint = openEndpoint(cli, config, health, metrics, log); // before anything is consumed
    if (cli.cloudwatchMetrics) publisher = await openMetrics(config, metrics, log);
    const brokerCa = await readBrokerCa(config);
    const ws = config.ws;
    const apiCa = ws && !cli.websocketStub ? await readApiCa(config) : null; // not read in stub mode
    // The relay's private socket directory: systemd's RuntimeDirectory= when there is one.
    const relayDir = Deno.env.get("RUNTIME_DIRECTORY")?.split(":")[0] ?? Deno.env.get("TMPDIR") ?? "/tmp";
    const proxy = proxyEnv();
    await runBridge({
      config,
      // In stub mode the publisher also carries the forwards into from_ws.
      ...bridgeSessions(config.mq, {
        log,
        metrics,
        caPem: brokerCa,
        name: `mq2wsbridge@${Deno.hostname()} pid ${Deno.pid}`,
      }),
      createWs: ws && !cli.websocketStub
        ? (handlers) =>
          new WsClient(ws, handlers, { log: log.child("ws"), metrics, caPem: apiCa, relayDir, proxy })
        : null,
      log,
      metrics,
      health,
    }, controller.signal);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return failure(err, log);
  } finally {
    stopped.at = Date.now();
    timer?.[Symbol.dispose]();
    trimmer?.stop();
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    try {
      await publisher?.close(METRICS_CLOSE_MS); // the last values
    } finally {
      await endpoint?.close();
    }
  }
}

/** The HTTP endpoint, when --http-listen or service.http_listen asks for one; a bad address is a ConfigError. */
function openEndpoint(
  cli: BridgeCli,
  config: BridgeConfig,
  health: BridgeHealth,
  metrics: MetricsRegistry,
  log: Logger,
): HttpEndpoint | null {
  const address = cli.httpListen ?? config.service.httpListen;
  if (address === null) return null;
  const { version, commit, target, deno } = buildInfo();
  const build = { version, commit, target, runtime: `deno ${deno}` };
  try {
    return openHttpEndpoint({
      ...address,
      log: log.child("http"),
      ready: () => {
        const readiness = health.readiness();
        return { ready: readiness.ready, body: readiness };
      },
      metrics: () => ({
        text: renderPrometheus({ snapshot: metrics.snapshot(), process: readProcessSample(), build }),
        contentType: PROMETHEUS_CONTENT_TYPE,
      }),
    });
  } catch (err) {
    if (!(err instanceof HttpListenError)) throw err;
    const key = cli.httpListen ? "--http-listen" : "service.http_listen";
    throw new ConfigError(cli.httpListen ? "the command line" : config.source, [`${key}: ${err.message}`]);
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
  const config = await resolveConfig(raw, {
    ws: !cli.websocketStub,
    logs: cli.cloudwatchLogs,
    metrics: cli.cloudwatchMetrics,
  });
  // The proxy variables are configuration too: a bad one is refused now, not on every attempt.
  const proxyProblem = config.ws && !cli.websocketStub
    ? proxyProblemFor(config.ws.apiHost, proxyEnv())
    : null;
  if (proxyProblem) throw new ConfigError("the environment", [proxyProblem]);
  return config;
}

/** HTTPS_PROXY, HTTP_PROXY, NO_PROXY (and their lower-case forms) from the environment. */
function proxyEnv() {
  return proxyEnvFrom((name) => Deno.env.get(name));
}

/** -M: copies the (valid) INI file into Parameter Store, verifies, prints the names written. */
async function migrate(cli: BridgeCli, log: Logger, redactor: Redactor): Promise<number> {
  const { raw, warnings } = await readIniFile(cli.config);
  registerConfigSecrets(raw, redactor);
  for (const warning of warnings) log.warn(warning);
  parseConfig(raw, { ws: !cli.websocketStub, logs: cli.cloudwatchLogs, metrics: cli.cloudwatchMetrics });
  const { resolveRegion } = await ssm();
  const { migrateToSsm } = await import("./handlers/aws/ssm_migrate.ts");
  const { region } = await resolveRegion({
    explicit: cli.ssmRegion,
    instanceRegion: () => imdsRegion(imds()),
  });
  const { written, skipped, deleted } = await migrateToSsm(raw, { region });
  print(
    `Migrated ${written.length} parameters from ${cli.config} to Parameter Store in ${region}, verified:`,
  );
  for (const name of written) print(`  ${name}`);
  if (skipped.length > 0) print(`Skipped (empty in the INI file): ${skipped.join(", ")}`);
  if (deleted.length > 0) {
    print(`Deleted ${deleted.length} parameters that ${cli.config} does not set:`);
    for (const name of deleted) print(`  ${name}`);
  }
  return EXIT.OK;
}

async function openLogs(config: BridgeConfig, format: LogFormat) {
  const { openCloudWatchLogs } = await import("./handlers/aws/cloudwatch_logs.ts");
  const cw = config.cloudwatch;
  return await openCloudWatchLogs({
    region: cw.region!,
    logGroup: cw.logGroup!,
    logStream: cw.logStream!,
    retentionDays: cw.retentionDays,
    format,
  });
}

async function openMetrics(
  config: BridgeConfig,
  registry: MetricsRegistry,
  log: Logger,
): Promise<MetricsPublisher> {
  const { startMetricsPublisher } = await import("./handlers/aws/cloudwatch_metrics.ts");
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

/** Maps a fatal error to an exit status, after logging it. */
function failure(err: unknown, log: Logger): number {
  if (err instanceof MqSetupError) {
    log.error(`Stopping: ${errorText(err)}`);
    return EXIT.CONFIG;
  }
  if (err instanceof MqAccessError) {
    log.error(`Stopping: ${errorText(err)}`);
    return EXIT.NOPERM;
  }
  if (err instanceof MqGaveUpError || err instanceof WsGaveUpError) {
    log.error(`Stopping: ${errorText(err)}`);
    return EXIT.UNAVAILABLE;
  }
  log.error(`Stopping after an unexpected error: ${errorText(err)}`);
  return EXIT.FAILURE;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
