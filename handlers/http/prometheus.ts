/**
 * What `/metrics` serves: the in-process metrics, the process metrics and
 * the build, in the Prometheus text exposition format, version 0.0.4. A pure
 * function of a snapshot, so every line can be tested and checked by
 * promtool without a server.
 *
 * Names: every registry name becomes `mq2wsbridge_<name>` (a counter's ends
 * in `_total`), except the per-side ones of `LABELLED`, which become one
 * family with a `side` label (`mq_connection_attempts_total` is
 * `mq2wsbridge_connection_attempts_total{side="mq"}`). HELP lines are
 * `METRIC_INFO`'s (lib/metrics.ts), the one place the meanings are written; a
 * name it does not know yet is still rendered, with a generic HELP.
 *
 * What appears when: every counter of `METRIC_INFO`, every side included,
 * from the start, at 0 until something counts it (a counter that has not
 * counted is 0, and `rate()` needs the series before the first event); a
 * gauge once something registered it (a reading is never made up); a
 * histogram from the start (the registry holds them all); the process
 * metrics that could be read.
 */
import * as M from "../../lib/metrics.ts";
import { PROCESS_METRICS, type ProcessSample } from "./process_metrics.ts";

/** The Content-Type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What one rendering reads. */
export interface PrometheusInput {
  snapshot: M.MetricsSnapshot;
  /** Null when not sampled: no process metrics then. */
  process: ProcessSample | null;
  /** Labels of `mq2wsbridge_build_info` (version, runtime...). */
  build: Readonly<Record<string, string>>;
}

/** One metric family as the docs list it. */
export interface PrometheusMetric {
  name: string;
  type: M.MetricKind;
  /** Its labels and their values, e.g. `side: mq, ws`; "" for none. */
  labels: string;
  help: string;
}

const PREFIX = "mq2wsbridge_";
const BUILD_INFO = `${PREFIX}build_info`;
const BUILD_HELP = "The build, in its labels; always 1";

/** Registry names that are one family with a label: its name (without the prefix), help and members. */
interface Labelled {
  family: string;
  help: string;
  label: string;
  members: readonly (readonly [registryName: string, labelValue: string])[];
}

const LABELLED: readonly Labelled[] = [
  {
    family: "connection_attempts_total",
    help:
      "Connection attempts, first connections and reconnections, by side (mq: the broker, ws: the WebSocket API)",
    label: "side",
    members: [[M.MQ_CONNECTION_ATTEMPTS_TOTAL, "mq"], [M.WS_CONNECTION_ATTEMPTS_TOTAL, "ws"]],
  },
  {
    family: "connections_lost_total",
    help: "Connections that were up and then lost (each one starts a reconnection), by side (mq, ws)",
    label: "side",
    members: [[M.MQ_CONNECTIONS_LOST_TOTAL, "mq"], [M.WS_CONNECTIONS_LOST_TOTAL, "ws"]],
  },
  {
    family: "connected",
    help:
      "1 while the connection is up, else 0, by side (mq_consume, mq_publish: the broker's two; ws: the WebSocket)",
    label: "side",
    members: [
      [M.MQ_CONSUME_CONNECTED, "mq_consume"],
      [M.MQ_PUBLISH_CONNECTED, "mq_publish"],
      [M.WS_CONNECTED, "ws"],
    ],
  },
];

/** A family to render: its samples come from these registry names, each with its label set. */
interface Family {
  name: string;
  type: M.MetricKind;
  help: string;
  labelsDoc: string;
  members: readonly { source: string; labels: string }[];
}

/** Every family `METRIC_INFO` knows, in its order (a labelled family where its first member is). */
const FAMILIES: readonly Family[] = knownFamilies();

/** Every family `/metrics` can show, in the order it shows them: the reference table in docs/operations.md. */
export const PROMETHEUS_METRICS: readonly PrometheusMetric[] = [
  { name: BUILD_INFO, type: "gauge", labels: "the build's fields", help: BUILD_HELP },
  ...FAMILIES.map(({ name, type, help, labelsDoc }) => ({ name, type, labels: labelsDoc, help })),
  ...PROCESS_METRICS.map(({ name, type, help }) => ({ name, type, labels: "", help })),
];

/** The text of one scrape. */
export function renderPrometheus(input: PrometheusInput): string {
  const { counters, gauges, histograms } = input.snapshot;
  const out: string[] = [];
  const rendered = new Set<string>(); // registry names
  const emitted = new Set<string>(); // family names, so a generic name cannot repeat a known family

  const header = (name: string, type: M.MetricKind, help: string) => {
    emitted.add(name);
    out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  };

  header(BUILD_INFO, "gauge", BUILD_HELP);
  out.push(`${BUILD_INFO}${labelSet(Object.entries(input.build))} 1`);

  for (const family of FAMILIES) {
    for (const { source } of family.members) rendered.add(source);
    if (family.type === "histogram") {
      const histogram = own(histograms, family.members[0]!.source);
      if (histogram) histogramLines(out, family.name, family.help, histogram, header);
      continue;
    }
    const values = family.type === "counter" ? counters : gauges;
    const samples = family.members.flatMap(({ source, labels }) => {
      const value = own(values, source) ?? (family.type === "counter" ? 0 : undefined);
      return value === undefined ? [] : [`${family.name}${labels} ${formatNumber(value)}`];
    });
    if (samples.length === 0) continue;
    header(family.name, family.type, family.help);
    out.push(...samples);
  }

  // Names METRIC_INFO does not know (yet): one family each, unless it would repeat one already out.
  for (const [kind, values] of [["counter", counters], ["gauge", gauges]] as const) {
    for (const [source, value] of Object.entries(values)) {
      const name = prometheusName(source, kind);
      if (rendered.has(source) || emitted.has(name)) continue;
      header(name, kind, genericHelp(source, kind));
      out.push(`${name} ${formatNumber(value)}`);
    }
  }
  for (const [source, histogram] of Object.entries(histograms)) {
    const name = prometheusName(source, "histogram");
    if (rendered.has(source) || emitted.has(name)) continue;
    histogramLines(out, name, genericHelp(source, "histogram"), histogram, header);
  }

  for (const { name, type, help } of PROCESS_METRICS) {
    const value = input.process?.[name];
    if (value === undefined) continue;
    header(name, type, help);
    out.push(`${name} ${formatNumber(value)}`);
  }
  return out.join("\n") + "\n";
}

/** `_bucket` lines, cumulative and ending with `le="+Inf"`, then `_sum` and `_count`. */
function histogramLines(
  out: string[],
  name: string,
  help: string,
  histogram: M.HistogramSnapshot,
  header: (name: string, type: M.MetricKind, help: string) => void,
): void {
  header(name, "histogram", help);
  histogram.buckets.forEach((bound, i) => {
    out.push(`${name}_bucket{le="${formatNumber(bound)}"} ${formatNumber(histogram.counts[i] ?? 0)}`);
  });
  out.push(
    `${name}_bucket{le="+Inf"} ${formatNumber(histogram.count)}`,
    `${name}_sum ${formatNumber(histogram.sum)}`,
    `${name}_count ${formatNumber(histogram.count)}`,
  );
}

function genericHelp(source: string, kind: M.MetricKind): string {
  return M.METRIC_INFO[source]?.help ?? `mq2wsbridge's ${kind} "${source}" (not described yet)`;
}

function knownFamilies(): Family[] {
  const families: Family[] = [];
  const grouped = new Map(LABELLED.flatMap((l) => l.members.map(([name]) => [name, l] as const)));
  for (const [name, { kind, help }] of Object.entries(M.METRIC_INFO)) {
    const labelled = grouped.get(name);
    if (!labelled) {
      families.push({
        name: prometheusName(name, kind),
        type: kind,
        help,
        labelsDoc: kind === "histogram" ? "le" : "",
        members: [{ source: name, labels: "" }],
      });
    } else if (labelled.members[0]![0] === name) {
      families.push({
        name: PREFIX + labelled.family,
        type: kind,
        help: labelled.help,
        labelsDoc: `${labelled.label}: ${labelled.members.map(([, value]) => value).join(", ")}`,
        members: labelled.members.map(([source, value]) => ({
          source,
          labels: labelSet([[labelled.label, value]]),
        })),
      });
    }
  }
  return families;
}

/** `mq2wsbridge_<name>`, with what the format does not allow replaced by `_`; a counter's ends in `_total`. */
export function prometheusName(name: string, kind: M.MetricKind): string {
  const base = PREFIX + name.replace(/[^a-zA-Z0-9_]/g, "_");
  return kind === "counter" && !base.endsWith("_total") ? `${base}_total` : base;
}

/** `{a="x",b="y"}`, or "" for no labels; label names made valid, values escaped. */
export function labelSet(pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 0) return "";
  const labels = pairs.map(([name, value]) => {
    const valid = name.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^(?=[0-9])/, "_");
    return `${valid}="${escapeLabelValue(value)}"`;
  });
  return `{${labels.join(",")}}`;
}

/** A label value as the format writes it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** HELP text as the format writes it: backslash and newline escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

/** Integers plain, other numbers as JavaScript writes them, and `NaN`, `+Inf`, `-Inf`. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
