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

/** One path at one message size. */
export interface BenchRow {
  path: "baseline" | "stub" | "echo" | "echoDirect";
  size: number;
  /** Median of the flood runs' throughput. */
  throughput: number;
  /** The run at a fixed moderate rate. */
  /** The paced run with the median p99. */
  latency: Run;
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
  context: { repeats: number; latencyRate: number; prefetch: number },
): string {
  const lines = [
    `| path | size | throughput (msg/s) | vs baseline | p50 ms | p95 ms | p99 ms | max ms | p99 − baseline p99 |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ];
  for (const row of rows) {
    const base = rows.find((r) => r.path === "baseline" && r.size === row.size)!;
    const ratio = base.throughput > 0 ? row.throughput / base.throughput : NaN;
    const l = row.latency.latencyMs;
    const p99Delta = l.p99 !== null && base.latency.latencyMs.p99 !== null
      ? l.p99 - base.latency.latencyMs.p99
      : null;
    lines.push(
      `| ${LABELS[row.path]} | ${sizeText(row.size)} | ${row.throughput.toFixed(0)} | ` +
        `${row.path === "baseline" ? "1" : ratio.toFixed(2)} | ${ms(l.p50)} | ${ms(l.p95)} | ${
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
      `Broker, path and load generator share the machine's cores.`,
  );
  return lines.join("\n");
}

function sizeText(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function ms(value: number | null): string {
  return value === null ? "-" : value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function signed(value: number | null): string {
  return value === null ? "-" : `${value >= 0 ? "+" : ""}${value.toFixed(2)} ms`;
}
