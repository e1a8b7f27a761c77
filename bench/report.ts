/** The benchmark's figures and how they are tabulated (pure). */

/** One bridgetester run, reduced to what the report needs. */
export interface Run {
  sent: number;
  reconciled: number;
  lost: number;
  duplicates: number;
  /** Reconciled messages per second (null if none). */
  throughput: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
}

/** The benchmark's paths. */
export type Path = "baseline" | "stub" | "echo" | "echoDirect";

/** Resident memory of a path's process, in KiB (VmRSS now, VmHWM its peak so far). */
export interface Memory {
  rssKiB: number;
  peakKiB: number;
}

/** Each path's resident memory at start and once idle after the last run. */
export interface MemoryNotes {
  start: Record<Path, Memory>;
  settled: Record<Path, Memory>;
  settleSecs: number;
}

/** One path at one message size. */
export interface BenchRow {
  path: Path;
  size: number;
  /** Median of the flood runs' throughput. */
  throughput: number;
  /** The paced run with the median p99. */
  latency: Run;
  /** CPU seconds (user + system) the path's process used per 10,000 messages over the flood runs. */
  cpuSecsPer10k: number | null;
  /** The path's process after this size's runs (processes live across sizes: the last size's is the bench's end). */
  memoryAfter: Memory;
  /** Every paced (fixed-rate) run. */
  paced: Run[];
  floods: Run[];
}

const LABELS = {
  baseline: "baseline forwarder",
  stub: "mq2wsbridge -X (stub)",
  echo: "mq2wsbridge + WebSocket echo",
  echoDirect: "… same, ws_no_delay = false",
};

/** The median of some numbers (nulls count as 0). */
export function median(values: (number | null)[]): number {
  const sorted = values.map((v) => v ?? 0).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The Markdown table of every row, with each bridge path's ratio to the baseline at the same size. */
export function markdownTable(
  rows: BenchRow[],
  context: { repeats: number; latencyRate: number; prefetch: number; memory: MemoryNotes },
): string {
  const lines = [
    `| path | size | throughput (msg/s) | vs baseline | CPU s / 10k msgs | CPU vs baseline | RSS after MiB (peak) | ` +
    `p50 ms | p95 ms | p99 ms | max ms | p99 − baseline p99 |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ];
  for (const row of rows) {
    const base = rows.find((r) => r.path === "baseline" && r.size === row.size)!;
    const ratio = base.throughput > 0 ? row.throughput / base.throughput : NaN;
    const cpuRatio = row.cpuSecsPer10k !== null && base.cpuSecsPer10k
      ? row.cpuSecsPer10k / base.cpuSecsPer10k
      : null;
    const l = row.latency.latencyMs;
    const p99Delta = l.p99 !== null && base.latency.latencyMs.p99 !== null
      ? l.p99 - base.latency.latencyMs.p99
      : null;
    lines.push(
      `| ${LABELS[row.path]} | ${sizeText(row.size)} | ${row.throughput.toFixed(0)} | ` +
        `${row.path === "baseline" ? "1" : ratio.toFixed(2)} | ${secs(row.cpuSecsPer10k)} | ` +
        `${row.path === "baseline" ? "1" : cpuRatio === null ? "-" : cpuRatio.toFixed(2)} | ` +
        `${mib(row.memoryAfter.rssKiB)} (${mib(row.memoryAfter.peakKiB)}) | ${ms(l.p50)} | ${ms(l.p95)} | ${
          ms(l.p99)
        } | ` +
        `${ms(l.max)} | ${row.path === "baseline" ? "" : signed(p99Delta)} |`,
    );
  }
  lines.push(
    "",
    `Throughput: bridgetester at full speed (\`-d 0\`), median of ${context.repeats} interleaved run(s). ` +
      `Latency: bridgetester at ${context.latencyRate} msg/s, the run with the median p99 of ${context.repeats}. ` +
      `Prefetch ${context.prefetch} everywhere. ` +
      `Broker, path and load generator share the machine's cores. ` +
      `CPU: user + system time of the path's own process (/proc/PID/stat) over its throughput runs, ` +
      `per 10,000 messages (each one consumed, carried and published once). ` +
      `RSS: VmRSS of that process after the size's runs (VmHWM, its peak so far, in brackets); ` +
      `the processes live through the whole bench, so the last size's is the RSS after the bench. ` +
      `RSS at start: ${rssList(context.memory.start)}; ` +
      `after ${context.memory.settleSecs} s idle at the end (by then V8's memory reducer has usually ` +
      `collected the runs' garbage; the bridges have also given the C heap's freed memory back, ` +
      `lib/heap_trim.ts, which the baseline does not): ` +
      `${rssList(context.memory.settled)}. ` +
      `p99 of each latency run, in the order run (ms): ${p99List(rows)}.`,
  );
  return lines.join("\n");
}

/** Every paced run's p99, path by path and size by size: how far one run's tail moves from the next's. */
function p99List(rows: BenchRow[]): string {
  return rows.map((row) =>
    `${row.path} ${sizeText(row.size)} ${row.paced.map((run) => ms(run.latencyMs.p99)).join(" / ")}`
  ).join("; ");
}

function sizeText(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function rssList(memory: Record<Path, Memory>): string {
  return (Object.entries(memory) as [Path, Memory][]).map(([path, m]) => `${path} ${mib(m.rssKiB)} MiB`).join(
    ", ",
  );
}

function secs(value: number | null): string {
  return value === null ? "-" : value.toFixed(3);
}

function mib(kib: number): string {
  return (kib / 1024).toFixed(0);
}

function ms(value: number | null): string {
  return value === null ? "-" : value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function signed(value: number | null): string {
  return value === null ? "-" : `${value >= 0 ? "+" : ""}${value.toFixed(2)} ms`;
}
