/**
 * bridgetester's command line, as a pure function: argv in, a `TesterCli`
 * or a `UsageError` out. Flags, short and long names and defaults follow the
 * original bridgetester.py (argparse); `-q`, `--json`, `--max-p99`,
 * `--size`, `--version`, and `-s`/`--ssm-region` (read the configuration
 * like mq2wsbridge does) are ours. The bridge's `-r` is `--ssm-region`; here
 * `-r` stays the original's `--report`, so `--ssm-region` has no short form.
 */
import { parseStrictArgs, UsageError } from "../config/bridge_args.ts";

export { UsageError };

/** Which screen the run is shown on. */
export type ViewKind = "plain" | "table" | "grid";

/** What the command line asked for. */
export interface TesterCli {
  view: ViewKind;
  count: number;
  delaySecs: number;
  exclusive: boolean;
  endDelaySecs: number;
  report: string | null;
  focused: boolean;
  quiet: boolean;
  config: string;
  /** `-s`: configuration from Parameter Store, as `mq2wsbridge -s`; overrides `-c`. */
  ssm: boolean;
  /** `--ssm-region`: Parameter Store's region instead of the usual sources. */
  ssmRegion: string | null;
  /** A file path, `-` for standard output, or null. */
  json: string | null;
  maxP99Ms: number | null;
  /** `--size`: bytes per message body (null: the natural size, about 30 bytes). */
  size: number | null;
  help: boolean;
  version: boolean;
}

/** Exit statuses, listed in the help text. */
export const TESTER_EXIT = {
  OK: 0,
  LOST: 1,
  USAGE: 2,
  SLOW: 3,
  UNAVAILABLE: 69,
  IO: 74,
  NOPERM: 77,
  CONFIG: 78,
  INTERRUPTED: 130,
} as const;

/** Most messages one run may send (its bookkeeping is a few arrays of this size). */
export const MAX_COUNT = 10_000_000;

export const USAGE =
  "usage: bridgetester [-h] [-v] [-n NUM_MSGS] [-d MSG_DELAY] [-x] [-e END_DELAY] [-g] [-r REPORT_FILE]\n" +
  "                    [-f] [-c CONFIG_FILE] [-s] [--ssm-region REGION] [-q] [--json FILE] [--max-p99 MS]\n" +
  "                    [--size BYTES] [--version]";

export const HELP = `${USAGE}

MQ to WebSocket Bridge Tester. Sends numbered test messages to the mq_qname_to_ws queue, reconciles
what comes back on mq_qname_from_ws, and reports losses, duplicates, throughput and latency.

options:
  -h, --help            show this help message and exit
  -v, --visual          full-screen table of when messages are sent/received and elapsed time
  -n NUM_MSGS, --number NUM_MSGS
                        number of test messages to be sent before quitting (default: 8)
  -d MSG_DELAY, --delay MSG_DELAY
                        seconds to wait between messages; fractions allowed; 0 sends as fast as
                        the broker confirms (default: 1)
  -x, --exclusive       exclusive mode: consume every message received, ours or not (bad for
                        production environments, good for clearing out stale test run messages)
  -e END_DELAY, --end-delay END_DELAY
                        seconds to wait after the last send for messages not yet reconciled; the
                        run ends as soon as all are (default: 30)
  -g, --graph           full-screen grid, one cell per message: '.' sent, 'o' reconciled
  -r REPORT_FILE, --report REPORT_FILE
                        write the messages not reconciled at the end of the run to REPORT_FILE,
                        one per line
  -f, --focused         report only this run's own messages, not the others we reject (plain view)
  -c CONFIG_FILE, --config CONFIG_FILE
                        config file to use (default: mq2wsbridge.ini)
  -s, --ssm             read the configuration from systems manager parameter store (/mq2wsbridge),
                        as mq2wsbridge -s does; overrides -c
  --ssm-region REGION   parameter store region instead of the usual sources (AWS_REGION,
                        AWS_DEFAULT_REGION, ~/.aws/config, the EC2 instance's own region); it is
                        mq2wsbridge's -r: here -r is the report file, as in the original
  -q, --quiet           plain view without a line per message: progress each second and summary
  --json FILE           also write the closing summary as JSON to FILE ('-' for standard output;
                        everything else then goes to standard error)
  --max-p99 MS          exit 3 when every message came back but the p99 latency exceeded MS
  --size BYTES          pad every message body to BYTES bytes (default: the natural ~30 bytes)
  --version             print the version, commit, target and Deno version, and exit

The full-screen views (-v, -g) need a terminal on standard output and end with "press any key
to exit" when standard input is a terminal. Every view ends with a summary on standard output.

exit status: 0 every message came back; 1 some did not (lost, or never sent), or an unexpected
error; 2 usage error (including -v/-g when standard output is not a terminal); 3 the p99 latency
exceeded --max-p99;
69 gave up connecting to the broker, or cannot read Parameter Store (-s); 74 cannot write the -r
or --json file; 77 the broker refused the login; 78 configuration error (including a missing
queue the broker user may not create);
130 interrupted (Ctrl-C, SIGTERM, SIGHUP) before every message came back.`;

/** Parses argv (without the program name). Throws `UsageError`. */
export function parseTesterArgs(argv: string[]): TesterCli {
  const values = parseStrictArgs(argv, {
    visual: { type: "boolean", short: "v" },
    number: { type: "string", short: "n" },
    delay: { type: "string", short: "d" },
    exclusive: { type: "boolean", short: "x" },
    "end-delay": { type: "string", short: "e" },
    graph: { type: "boolean", short: "g" },
    report: { type: "string", short: "r" },
    focused: { type: "boolean", short: "f" },
    config: { type: "string", short: "c" },
    ssm: { type: "boolean", short: "s" },
    "ssm-region": { type: "string" },
    quiet: { type: "boolean", short: "q" },
    json: { type: "string" },
    "max-p99": { type: "string" },
    size: { type: "string" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean" },
  });
  if (values.visual && values.graph) {
    throw new UsageError("argument -g/--graph: not allowed with argument -v/--visual");
  }
  const count = wholeNumber(values.number, "-n/--number", 8);
  if (count < 1 || count > MAX_COUNT) {
    throw new UsageError(
      `argument -n/--number: invalid value "${values.number}" (expected 1 to ${MAX_COUNT} messages)`,
    );
  }
  for (const [flag, value] of [["-r/--report", values.report], ["--json", values.json]] as const) {
    if (value === "") throw new UsageError(`argument ${flag}: expected a file name, got ""`);
  }
  const region = values["ssm-region"];
  if (region !== undefined && !AWS_REGION.test(region)) {
    throw new UsageError(`argument --ssm-region: "${region}" is not an AWS region (e.g. us-east-1)`);
  }
  const maxP99 = values["max-p99"];
  return {
    view: values.visual ? "table" : values.graph ? "grid" : "plain",
    count,
    delaySecs: seconds(values.delay, "-d/--delay", 1),
    exclusive: values.exclusive ?? false,
    endDelaySecs: seconds(values["end-delay"], "-e/--end-delay", 30),
    report: values.report ?? null,
    focused: values.focused ?? false,
    quiet: values.quiet ?? false,
    config: values.config ?? "mq2wsbridge.ini",
    ssm: values.ssm ?? false,
    ssmRegion: region ?? null,
    json: values.json ?? null,
    maxP99Ms: maxP99 === undefined ? null : milliseconds(maxP99),
    size: values.size === undefined ? null : messageSize(values.size),
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

function wholeNumber(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`argument ${flag}: invalid int value: "${text}"`);
  return Number(text);
}

/** Non-negative seconds, fractions allowed (at most a day, so timers stay exact). */
function seconds(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!DECIMAL.test(text) || value > 86_400) {
    throw new UsageError(`argument ${flag}: invalid value "${text}" (expected seconds from 0 to 86400)`);
  }
  return value;
}

/** Most bytes `--size` accepts: what Deno's WebSocket client takes in one frame. */
export const MAX_SIZE = 64 * 1024 * 1024;

function messageSize(text: string): number {
  const value = wholeNumber(text, "--size", 0);
  if (value < 1 || value > MAX_SIZE) {
    throw new UsageError(`argument --size: invalid value "${text}" (expected 1 to ${MAX_SIZE} bytes)`);
  }
  return value;
}

function milliseconds(text: string): number {
  const value = Number(text);
  if (!DECIMAL.test(text) || value <= 0) {
    throw new UsageError(`argument --max-p99: invalid value "${text}" (expected milliseconds above 0)`);
  }
  return value;
}
