/**
 * The standard process metrics, as Prometheus' client libraries name them,
 * for `/metrics`.
 *
 * Deno 2.9.6 refuses every path under /proc (even `/proc/self/stat` named
 * in `--allow-read=`: "Requires all access ... run again with the --allow-all
 * flag"), and the compiled bridge runs without --allow-all
 * (scripts/programs.ts). So three values come from the runtime, which needs
 * no permission and gives the same figures as /proc:
 *
 * - `process_resident_memory_bytes`: `Deno.memoryUsage().rss`;
 * - `process_cpu_seconds_total`: `process.cpuUsage()` (getrusage: user +
 *   system, every thread);
 * - `process_start_time_seconds`: `performance.timeOrigin`, the wall-clock
 *   time the main worker started, 10 to 20 ms after exec (measured against
 *   /proc here). Under `deno test` each test module has a worker of its own,
 *   so there it is when the module started.
 *
 * The other three exist only in /proc, so they appear only when the process
 * may read it (run with --allow-all, as the tests are): the virtual size
 * (field 23 of /proc/self/stat), the open descriptors (entries of
 * /proc/self/fd, the one reading it included, as the Go client counts) and
 * the soft limit on them (/proc/self/limits; left out when unlimited).
 *
 * Nothing here throws: a value that cannot be read is left out of the sample.
 */
import process from "node:process";

/** The metrics of a sample, with the type and help text Prometheus' client libraries give them. */
export const PROCESS_METRICS = [
  {
    name: "process_cpu_seconds_total",
    type: "counter",
    help: "Total user and system CPU time spent in seconds.",
  },
  { name: "process_open_fds", type: "gauge", help: "Number of open file descriptors." },
  { name: "process_max_fds", type: "gauge", help: "Maximum number of open file descriptors." },
  { name: "process_virtual_memory_bytes", type: "gauge", help: "Virtual memory size in bytes." },
  { name: "process_resident_memory_bytes", type: "gauge", help: "Resident memory size in bytes." },
  {
    name: "process_start_time_seconds",
    type: "gauge",
    help: "Start time of the process since unix epoch in seconds.",
  },
] as const;

/** One of `PROCESS_METRICS`' names. */
export type ProcessMetricName = typeof PROCESS_METRICS[number]["name"];

/** The values read at one moment; a value that could not be read is absent. */
export type ProcessSample = Partial<Record<ProcessMetricName, number>>;

/** Where the values come from; the real ones by default, a test's own to prove nothing throws. */
export interface ProcessSources {
  /** Resident set size, bytes. */
  rss(): number;
  /** CPU time used so far, microseconds. */
  cpuMicros(): { user: number; system: number };
  /** Epoch milliseconds at which the runtime started. */
  startMs(): number;
  readTextFile(path: string): string;
  /** Number of entries in a directory. */
  countEntries(path: string): number;
}

/** The runtime and Linux's /proc. */
export const systemSources: ProcessSources = {
  rss: () => Deno.memoryUsage().rss,
  cpuMicros: () => process.cpuUsage(),
  startMs: () => performance.timeOrigin,
  readTextFile: (path) => Deno.readTextFileSync(path),
  countEntries: (path) => {
    let n = 0;
    for (const _ of Deno.readDirSync(path)) n++;
    return n;
  },
};

/** Reads every value it can, now; never throws. */
export function readProcessSample(from: ProcessSources = systemSources): ProcessSample {
  const sample: ProcessSample = {};
  const put = (name: ProcessMetricName, read: () => number | null) => {
    try {
      const value = read();
      if (value !== null && Number.isFinite(value) && value >= 0) sample[name] = value;
    } catch {
      // Refused or missing (no /proc, no permission): left out.
    }
  };
  put("process_resident_memory_bytes", () => from.rss());
  put("process_cpu_seconds_total", () => {
    const { user, system } = from.cpuMicros();
    return (user + system) / 1e6;
  });
  put("process_start_time_seconds", () => from.startMs() / 1000);
  put("process_virtual_memory_bytes", () => parseVirtualBytes(from.readTextFile("/proc/self/stat")));
  put("process_open_fds", () => from.countEntries("/proc/self/fd"));
  put("process_max_fds", () => parseMaxFds(from.readTextFile("/proc/self/limits")));
  return sample;
}

/** vsize, field 23 of a /proc/PID/stat line (the name in parentheses may hold spaces); null if absent. */
export function parseVirtualBytes(stat: string): number | null {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so field 23 is at 20.
  const vsize = fields[20] ?? "";
  return /^\d+$/.test(vsize) ? Number(vsize) : null;
}

/** The soft limit of "Max open files" in /proc/PID/limits; null if unlimited or absent. */
export function parseMaxFds(limits: string): number | null {
  const match = /^Max open files\s+(\d+)\s/m.exec(limits);
  return match ? Number(match[1]) : null;
}
