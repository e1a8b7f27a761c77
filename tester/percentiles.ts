/**
 * Latency statistics: min, p50, p95, p99 and max of a set of samples, by the
 * nearest-rank method (every reported value is one that was measured).
 */

/** Summary statistics of a set of latencies, in milliseconds. */
export interface LatencyStats {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The `p`th percentile (0 < p <= 100) of ascending `sorted` samples, nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Statistics of `samples` (not modified), or null when there are none. O(n log n). */
export function latencyStats(samples: ArrayLike<number>): LatencyStats | null {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    min: sorted[0]!,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}
