/**
 * What a process costs, from Linux's /proc: the CPU time it has used
 * (utime + stime of /proc/PID/stat, every thread's, in clock ticks) and its
 * resident memory (VmRSS and its peak VmHWM of /proc/PID/status). Deno reads
 * /proc only with --allow-all, which is why `deno task bench` runs with it.
 *
 * The pid must be the process doing the work: the bench starts each path
 * with `Deno.execPath() run ...` (tools/program.ts), so the child it spawns
 * is the deno process itself, not a wrapper, and its pid is the one to read.
 */

import type { Memory } from "./report.ts";

/** Clock ticks per second (`getconf CLK_TCK`), the unit of /proc/PID/stat's times; 100 if unknown. */
export async function clockTicks(): Promise<number> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped", stderr: "null" })
      .output();
    const ticks = Number(new TextDecoder().decode(out.stdout).trim());
    return out.success && Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100; // no getconf: Linux's USER_HZ is 100 on every architecture we build for
  }
}

/** CPU ticks (user + system, all threads) process `pid` has used so far. */
export async function cpuTicks(pid: number): Promise<number> {
  return parseCpuTicks(await Deno.readTextFile(`/proc/${pid}/stat`), pid);
}

/** utime + stime of a /proc/PID/stat line (fields 14 and 15; the name in parentheses may hold spaces). */
export function parseCpuTicks(stat: string, pid: number): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so fields 14 and 15 are at 11 and 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) {
    throw new Error(`Cannot read the CPU time of process ${pid}: unexpected /proc/${pid}/stat "${stat}"`);
  }
  return utime + stime;
}

/** Resident memory of process `pid` now (VmRSS) and at its peak (VmHWM). */
export async function memoryOf(pid: number): Promise<Memory> {
  return parseMemory(await Deno.readTextFile(`/proc/${pid}/status`), pid);
}

/** VmRSS and VmHWM of a /proc/PID/status text. */
export function parseMemory(status: string, pid: number): Memory {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    if (!match) {
      throw new Error(`Cannot read ${name} of process ${pid}: no ${name} line in /proc/${pid}/status`);
    }
    return Number(match[1]);
  };
  return { rssKiB: field("VmRSS"), peakKiB: field("VmHWM") };
}

/** Adds up the CPU time one process spends in measured stretches (its throughput runs). */
export class CpuMeter {
  readonly #pid: number;
  readonly #ticksPerSec: number;
  #ticks = 0;
  #messages = 0;

  constructor(pid: number, ticksPerSec: number) {
    this.#pid = pid;
    this.#ticksPerSec = ticksPerSec;
  }

  /** Runs `work`, adding the CPU time the process used meanwhile and the messages `work` says it moved. */
  async measure<T>(work: () => Promise<T>, messages: (result: T) => number): Promise<T> {
    const before = await cpuTicks(this.#pid);
    const result = await work();
    this.#ticks += (await cpuTicks(this.#pid)) - before;
    this.#messages += messages(result);
    return result;
  }

  /** CPU seconds used per 10,000 messages over the measured stretches (null before any message). */
  get secsPer10k(): number | null {
    return this.#messages > 0 ? (this.#ticks / this.#ticksPerSec) * 10_000 / this.#messages : null;
  }

  /** CPU seconds used over the measured stretches. */
  get secs(): number {
    return this.#ticks / this.#ticksPerSec;
  }
}
