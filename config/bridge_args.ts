/**
 * mq2wsbridge's command line, as a pure function: argv in, a `BridgeCli` or
 * a `UsageError` out. Flags, short and long names follow the original
 * service's (argparse) help; `--check-config` and `--version` are ours.
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { type ListenAddress, parseListenAddress } from "./config.ts";
import { parseLogFormat } from "../lib/log_format.ts";

/** What the command line asked for. */
export interface BridgeCli {
  runSecs: number;
  verbose: boolean;
  debug: boolean;
  config: string;
  ssmRegion: string | null;
  ssm: boolean;
  migrateConfig: boolean;
  websocketStub: boolean;
  cloudwatchLogs: boolean;
  cloudwatchMetrics: boolean;
  checkConfig: boolean;
  /** `--http-listen`; null: `service.http_listen` decides. */
  httpListen: ListenAddress | null;
  /** `--log-format`; null: `service.log_format` decides. */
  logFormat: "text" | "json" | null;
  help: boolean;
  version: boolean;
}

/** A bad command line; main prints USAGE and the message, exits 2 (as argparse did). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** node:util's parseArgs, strict and without positionals (both programs'); its errors as UsageError. */
export function parseStrictArgs<const T extends ParseArgsOptionsConfig>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
}

export const USAGE =
  "usage: mq2wsbridge [-h] [--runsecs RUN_SECS] [-v] [-d] [-c CONFIG] [-r SSM_REGION] [-s] [-M] [-X] [-l]\n" +
  "                   [-m] [--http-listen HOST:PORT] [--log-format {text,json}] [--check-config]\n" +
  "                   [--version]";

export const HELP = `${USAGE}

MQ to WebSocket message bridge service.

options:
  -h, --help            show this help message and exit
  --runsecs RUN_SECS    number of seconds to run before shutting down, 0=forever (default: 0)
  -v, --verbose         display lots of information while running (INFO level: connections,
                        reconnects, shutdown)
  -d, --debug           display debug level of information while running (DEBUG level: a line
                        per message bridged, each way, with its queue, size, delivery tag or
                        message id and the first 200 bytes of its body: -d logs message
                        bodies); does not imply -v
  -c CONFIG, --config CONFIG
                        config file to use (default: mq2wsbridge.ini)
  -r SSM_REGION, --ssm-region SSM_REGION
                        systems manager config region to use instead of native one; specify as aws
                        region (e.g. 'us-east-1')
  -s, --ssm             use systems manager for config; overrides -c config
  -M, --migrate-config  migrate INI configuration (-c) to systems manager, verify it, print the
                        parameter names written and exit. requires -s. will overwrite existing ssm,
                        and delete the parameters under /mq2wsbridge the INI does not set!
  -X, --websocket-stub  stub out the WebSocket handler for testing: messages from the to_ws queue are
                        published to the from_ws queue instead
  -l, --cloudwatch-logs
                        use CloudWatch logging instead of STDOUT
  -m, --cloudwatch-metrics
                        use CloudWatch for recording metrics
  --http-listen HOST:PORT
                        serve GET /ping, /ready and /metrics (Prometheus) on this address, e.g.
                        127.0.0.1:9464; overrides service.http_listen (default: off)
  --log-format {text,json}
                        text lines, or one JSON object per line (time, level, component, msg,
                        fields); overrides service.log_format (default: text)
  --check-config        load and validate the configuration, report every problem, and exit
  --version             print the version, commit, target and Deno version, and exit

exit status: 0 clean shutdown (runsecs elapsed, SIGTERM, SIGINT, SIGHUP), 1 unexpected error,
2 usage error, 69 gave up connecting to the broker or the WebSocket API (or AWS unreachable, no AWS
credentials, at start-up), 77 credentials or permission refused (AWS IAM or KMS, the broker's
login), 78 configuration error.`;

/** Parses argv (without the program name). Throws `UsageError`. */
export function parseBridgeArgs(argv: string[]): BridgeCli {
  const values = parseStrictArgs(argv, {
    runsecs: { type: "string" },
    verbose: { type: "boolean", short: "v" },
    debug: { type: "boolean", short: "d" },
    config: { type: "string", short: "c" },
    "ssm-region": { type: "string", short: "r" },
    ssm: { type: "boolean", short: "s" },
    "migrate-config": { type: "boolean", short: "M" },
    "websocket-stub": { type: "boolean", short: "X" },
    "cloudwatch-logs": { type: "boolean", short: "l" },
    "cloudwatch-metrics": { type: "boolean", short: "m" },
    "check-config": { type: "boolean" },
    "http-listen": { type: "string" },
    "log-format": { type: "string" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean" },
  });
  const runSecs = values.runsecs === undefined ? 0 : Number(values.runsecs);
  if (!/^\d+$/.test(values.runsecs ?? "0") || !Number.isSafeInteger(runSecs)) {
    throw new UsageError(
      `argument --runsecs: invalid value "${values.runsecs}" (expected whole seconds, 0=forever)`,
    );
  }
  if (values["migrate-config"] && !values.ssm) {
    throw new UsageError("argument -M/--migrate-config: requires -s/--ssm");
  }
  if (values["ssm-region"] !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(values["ssm-region"])) {
    throw new UsageError(
      `argument -r/--ssm-region: "${values["ssm-region"]}" is not an AWS region (e.g. us-east-1)`,
    );
  }
  let httpListen: ListenAddress | null = null;
  if (values["http-listen"] !== undefined) {
    const parsed = parseListenAddress(values["http-listen"]);
    if (typeof parsed === "string") {
      throw new UsageError(`argument --http-listen: "${values["http-listen"]}" ${parsed}`);
    }
    httpListen = parsed;
  }
  const logFormat = values["log-format"] === undefined
    ? null
    : parseLogFormat(values["log-format"].toLowerCase());
  if (values["log-format"] !== undefined && logFormat === null) {
    throw new UsageError(
      `argument --log-format: invalid choice "${values["log-format"]}" (choose from text, json)`,
    );
  }
  return {
    runSecs,
    verbose: values.verbose ?? false,
    debug: values.debug ?? false,
    config: values.config ?? "mq2wsbridge.ini",
    ssmRegion: values["ssm-region"] ?? null,
    ssm: values.ssm ?? false,
    migrateConfig: values["migrate-config"] ?? false,
    websocketStub: values["websocket-stub"] ?? false,
    cloudwatchLogs: values["cloudwatch-logs"] ?? false,
    cloudwatchMetrics: values["cloudwatch-metrics"] ?? false,
    checkConfig: values["check-config"] ?? false,
    httpListen,
    logFormat,
    help: values.help ?? false,
    version: values.version ?? false,
  };
}
