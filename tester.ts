/**
 * bridgetester: proves the bridge's whole path works and measures it. Sends
 * numbered test messages to mq_qname_to_ws, reconciles what comes back on
 * mq_qname_from_ws, and reports what was lost, duplicated and how fast.
 * This file is the command line: arguments, configuration, the view, the
 * run, the summary and the exit status. The work is in tester/.
 */
import { HELP, parseTesterArgs, TESTER_EXIT, type TesterCli, USAGE, UsageError } from "./tester/args.ts";
import { type BridgeConfig, ConfigError, type RawConfig } from "./config/config.ts";
import { readBrokerCa, registerConfigSecrets, resolveConfig } from "./config/secrets.ts";
import { systemClock } from "./lib/clock.ts";
import { MetricsRegistry } from "./lib/metrics.ts";
import { Redactor } from "./lib/secret.ts";
import { leftoverLines } from "./tester/leftovers.ts";
import { runTester, TEST_MESSAGE_TTL_MS } from "./tester/run.ts";
import {
  exitStatus,
  formatSummary,
  reconciledLine,
  type RunResult,
  summarize,
  type Summary,
  summaryRecord,
} from "./tester/summary.ts";
import { VERSION, versionLine } from "./lib/version.ts";
import { FullScreenView } from "./tester/views/full_screen.ts";
import { gridLines } from "./tester/views/grid.ts";
import { PlainView } from "./tester/views/plain.ts";
import { Screen } from "./tester/views/screen.ts";
import { tableLines } from "./tester/views/table.ts";
import type { TesterView } from "./tester/views/view.ts";
import { imdsOptionsFromEnv, readIniFile } from "./config/ini_file.ts";
import { imdsRegion } from "./handlers/aws/imds.ts";
import { createLogger, errorText, type LogSink } from "./lib/log.ts";
import {
  MqAccessError,
  MqGaveUpError,
  MqSession,
  MqSetupError,
  settingsOptions,
} from "./handlers/mq/session.ts";
import { readSsmConfig, resolveRegion } from "./handlers/aws/ssm.ts";
import { print, printErr } from "./lib/print.ts";

const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Runs bridgetester; returns the exit status (see `--help`). */
export async function main(args: string[]): Promise<number> {
  let cli: TesterCli;
  try {
    cli = parseTesterArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    printErr(`${USAGE}\nbridgetester: error: ${err.message}`);
    return TESTER_EXIT.USAGE;
  }
  if (cli.help) return print(HELP), TESTER_EXIT.OK;
  if (cli.version) return print(versionLine("bridgetester")), TESTER_EXIT.OK;
  if (cli.view !== "plain" && !Deno.stdout.isTerminal()) {
    const flag = cli.view === "table" ? "-v/--visual" : "-g/--graph";
    printErr(
      `bridgetester: error: ${flag} draws a full-screen view, but standard output is not a terminal; ` +
        `run it in a terminal, or leave out ${flag} for plain lines (with --json FILE for scripts)`,
    );
    return TESTER_EXIT.USAGE;
  }

  const redactor = new Redactor();
  let config: BridgeConfig;
  let caPem: string | null;
  try {
    const { raw, warnings } = await readRawConfig(cli);
    registerConfigSecrets(raw, redactor);
    for (const warning of warnings) printErr(`bridgetester: warning: ${redactor.redact(warning)}`);
    config = await resolveConfig(raw, { ws: false, logs: false, metrics: false });
    caPem = await readBrokerCa(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      printErr(`bridgetester: ${redactor.redact(err.message)}`);
      return TESTER_EXIT.CONFIG;
    }
    printErr(`bridgetester: ${redactor.redact(errorText(err))}`);
    return TESTER_EXIT.UNAVAILABLE; // Parameter Store or AWS unreachable, as mq2wsbridge says it
  }

  const controller = new AbortController();
  const onSignal = () => controller.abort();
  for (const signal of SIGNALS) Deno.addSignalListener(signal, onSignal);
  // With --json -, standard output is the JSON's: the human lines go to standard error.
  const human = cli.json === "-" ? Deno.stderr : Deno.stdout;
  const say = cli.json === "-" ? printErr : print;
  const view = createView(cli, human);
  try {
    const result = await measure(cli, config, caPem, view, redactor, controller.signal);
    const summary = summarize(result);
    const status = exitStatus(summary, cli.maxP99Ms);
    const json = jsonText(cli, config, summary, status);
    const written = await writeFiles(cli, result, json);
    await view.end(summary, controller.signal);
    view.close();
    say(formatSummary(summary));
    if (cli.report !== null) say(reconciledLine(summary));
    for (const line of leftovers(cli, config, summary)) say(line);
    if (cli.json === "-") print(json); // only now: a full-screen view has given the screen back
    return written ?? status;
  } catch (err) {
    view.close();
    return failure(err, redactor);
  } finally {
    view.close();
    for (const signal of SIGNALS) Deno.removeSignalListener(signal, onSignal);
  }
}

/** The raw configuration, from the INI file or (-s) Parameter Store, read exactly as mq2wsbridge reads it. */
async function readRawConfig(cli: TesterCli): Promise<{ raw: RawConfig; warnings: string[] }> {
  if (!cli.ssm) return await readIniFile(cli.config);
  let region: string;
  try {
    ({ region } = await resolveRegion({
      explicit: cli.ssmRegion,
      instanceRegion: () => imdsRegion(imdsOptionsFromEnv()),
    }));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // The shared message names mq2wsbridge's flag; here -r is the report file.
    throw new ConfigError(
      err.source,
      err.problems.map((p) => p.replaceAll("-r REGION", "--ssm-region REGION")),
    );
  }
  return await readSsmConfig({ region });
}

/** What the run left on the queues, and how to clear it. */
function leftovers(cli: TesterCli, config: BridgeConfig, summary: Summary): string[] {
  const region = cli.ssmRegion ? ` --ssm-region ${cli.ssmRegion}` : "";
  return leftoverLines(summary, {
    toWs: config.mq.queueToWs,
    fromWs: config.mq.queueFromWs,
    exclusive: cli.exclusive,
    testTtlMs: TEST_MESSAGE_TTL_MS,
    fromWsTtlMs: config.mq.ttlFromWsMs,
    configArgs: cli.ssm ? `-s${region}` : `-c ${cli.config}`,
  });
}

/** Connects, runs the test, and closes the broker connection (handing back what is not ours). */
async function measure(
  cli: TesterCli,
  config: BridgeConfig,
  caPem: string | null,
  view: TesterView,
  redactor: Redactor,
  signal: AbortSignal,
): Promise<RunResult> {
  const log = createLogger({ sink: noticeSink(view), info: false, debug: false, redactor });
  await using mq = new MqSession(
    settingsOptions(config.mq, {
      queues: [config.mq.queueToWs, config.mq.queueFromWs],
      connectionName: `bridgetester@${Deno.hostname()} pid ${Deno.pid}`,
      caPem,
    }),
    { log: log.child("mq"), metrics: new MetricsRegistry() },
  );
  return await runTester({
    count: cli.count,
    delayMs: cli.delaySecs * 1000,
    endDelayMs: cli.endDelaySecs * 1000,
    exclusive: cli.exclusive,
    toWs: config.mq.queueToWs,
    fromWs: config.mq.queueFromWs,
    brokerUrl: config.mq.displayUrl,
    consumerTag: `bridgetester.${Deno.pid}`,
    pid: Deno.pid,
    prefetch: config.mq.prefetch,
    size: cli.size,
  }, { mq, view, clock: systemClock(), signal });
}

function createView(cli: TesterCli, human: typeof Deno.stdout): TesterView {
  if (cli.view === "plain") return new PlainView({ out: human, focused: cli.focused, quiet: cli.quiet });
  return new FullScreenView(Screen.open(), cli.view === "table" ? tableLines : gridLines);
}

/** Log lines (already redacted) become view notices, so a full-screen view is never scribbled over. */
function noticeSink(view: TesterView): LogSink {
  return {
    write: (line) => view.notice(line.replace(/^\S+\s+/, "")), // drop the timestamp
    flush: () => Promise.resolve(),
  };
}

/** The `--json` document. */
function jsonText(cli: TesterCli, config: BridgeConfig, summary: Summary, status: number): string {
  const record = summaryRecord(summary, {
    version: VERSION,
    config: config.source,
    broker: config.mq.displayUrl,
    toWs: config.mq.queueToWs,
    fromWs: config.mq.queueFromWs,
    options: {
      count: cli.count,
      delaySecs: cli.delaySecs,
      endDelaySecs: cli.endDelaySecs,
      exclusive: cli.exclusive,
      size: cli.size,
    },
  }, status);
  return JSON.stringify(record, null, 2);
}

/** Writes the `-r` file and the `--json` file; returns an exit status if one could not be written. */
async function writeFiles(cli: TesterCli, result: RunResult, json: string): Promise<number | null> {
  try {
    if (cli.report !== null) {
      const lines = result.reconciler.unreconciled();
      await Deno.writeTextFile(cli.report, lines.map((line) => `${line}\n`).join(""));
    }
    if (cli.json !== null && cli.json !== "-") await Deno.writeTextFile(cli.json, `${json}\n`);
    return null;
  } catch (err) {
    printErr(`bridgetester: error: cannot write the results: ${errorText(err)}`);
    return TESTER_EXIT.IO;
  }
}

/** Maps a fatal error to an exit status, after saying what it was. */
function failure(err: unknown, redactor: Redactor): number {
  const text = redactor.redact(errorText(err));
  if (err instanceof MqSetupError) return printErr(`bridgetester: ${text}`), TESTER_EXIT.CONFIG;
  if (err instanceof MqGaveUpError) return printErr(`bridgetester: ${text}`), TESTER_EXIT.UNAVAILABLE;
  if (err instanceof MqAccessError) return printErr(`bridgetester: ${text}`), TESTER_EXIT.NOPERM;
  printErr(`bridgetester: stopped by an unexpected error: ${text}`);
  return 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
