/**
 * Gives the C heap's freed memory back to the system once the bridge has gone
 * quiet.
 *
 * Why: the runtime's C allocator (glibc's malloc) keeps what is freed. After a
 * burst the bridge held 150 to 200 MiB for good, although what it still used
 * was about 90: the rest was freed memory in the middle of the heap, which
 * glibc returns only in `malloc_trim` (docs/performance.md, "Memory after a
 * burst", also says what the ffi permission allows beyond this one call). No
 * glibc tunable or V8 flag does the same.
 *
 * How: `openMallocTrim()` opens the system's C library, which the process has
 * already loaded (so no new code comes in), by one of `LIBC_PATHS`: the only
 * files the compiled bridge may open with `--allow-ffi` (scripts/programs.ts).
 * `HeapTrimmer` calls `malloc_trim(0)` every `CHECK_MS` while the bridge is
 * quiet (fewer than `BUSY_MESSAGES` messages since the last check), up to
 * `QUIET_TRIMS` times in a row: V8 frees the buffers of a burst 15 to 25 s after
 * its last message, so a single trim would come too early. A busy check starts
 * the count again. Under steady load it never trims: the memory is in use.
 * The first trim after traffic comes after a full garbage collection
 * (`openFullGc()`): buffers that only garbage still holds are malloc'ed
 * memory too, and V8 frees them only when it collects (6 MiB more came back
 * here, docs/performance.md). It pauses the bridge for tens of milliseconds
 * (more with a larger heap), so it runs once per quiet spell, and not at all
 * before the bridge has carried anything.
 *
 * Without that permission (bridgetester, a `deno run` without the flag) or
 * without glibc (none of the paths opens), nothing is trimmed and nothing is
 * asked: the permission is queried, never prompted for.
 */
import v8 from "node:v8";
import vm from "node:vm";
import type { Timers } from "./clock.ts";
import type { Logger } from "./log.ts";

/** Where glibc's libc.so.6 is on the distributions the bridge runs on; the `--allow-ffi` list. */
export const LIBC_PATHS = [
  "/usr/lib64/libc.so.6", // Amazon Linux 2023, Fedora, RHEL (x86_64 and aarch64)
  "/lib64/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libc.so.6", // Debian, Ubuntu
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/aarch64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
] as const;

/** How often the trimmer looks at the traffic. */
export const CHECK_MS = 5_000;
/** Quiet checks in a row that trim, after the last busy one: one minute. */
export const QUIET_TRIMS = 12;
/** Messages in one check's interval that make it busy (20 a second). */
export const BUSY_MESSAGES = 100;

/** glibc's `malloc_trim`, opened. */
export interface Trim {
  /** Gives freed heap memory back to the system; returns whether any was. */
  trim(): boolean;
  /** Lets the library go (the process keeps libc loaded: this only releases Deno's handle). */
  close(): void;
}

/**
 * glibc's `malloc_trim(0)`, from the first of `paths` that this process may
 * open (without asking) and that opens; null if none does.
 */
export function openMallocTrim(paths: readonly string[] = LIBC_PATHS): Trim | null {
  for (const path of paths) {
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
    try {
      const libc = Deno.dlopen(path, { malloc_trim: { parameters: ["usize"], result: "i32" } } as const);
      return { trim: () => libc.symbols.malloc_trim(0n) === 1, close: () => libc.close() };
    } catch {
      // Not on this system; try the next one.
    }
  }
  return null;
}

/**
 * V8's full garbage collection, as `gc()` with `--expose-gc`: the flag set
 * now (node:v8), the function taken from a new context, where V8 installs it
 * (node:vm). No permission is needed; null if the runtime does not allow it.
 */
export function openFullGc(): (() => void) | null {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    return typeof gc === "function" ? () => gc() : null;
  } catch {
    return null;
  }
}

/** What a `HeapTrimmer` needs: the trim, a count that grows with traffic, and timers. */
export interface HeapTrimmerDeps {
  trim: Trim;
  /** A full garbage collection, run before the first trim after traffic (none: trims only). */
  collect?: (() => void) | null;
  /** Messages carried so far, both ways; only its growth between checks is used. */
  activity: () => number;
  timers: Timers;
}

/** Trims the heap while the bridge is quiet (see the module comment); `stop()` ends it. */
export class HeapTrimmer {
  readonly #deps: HeapTrimmerDeps;
  #timer: unknown;
  #last: number;
  /** Quiet checks that may still trim before the next busy one. */
  #left = QUIET_TRIMS;
  /** Messages moved since the last collection: the next trim collects first. */
  #moved = false;
  #stopped = false;

  constructor(deps: HeapTrimmerDeps) {
    this.#deps = deps;
    this.#last = deps.activity();
    this.#schedule();
  }

  /** Ends the checks and closes the trim. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#deps.timers.clearTimeout(this.#timer);
    this.#deps.trim.close();
  }

  #schedule(): void {
    if (!this.#stopped) this.#timer = this.#deps.timers.setTimeout(() => this.#check(), CHECK_MS);
  }

  #check(): void {
    const now = this.#deps.activity();
    const moved = now - this.#last;
    this.#last = now;
    if (moved > 0) this.#moved = true;
    if (moved >= BUSY_MESSAGES) {
      this.#left = QUIET_TRIMS;
    } else if (this.#left > 0) {
      this.#left--;
      if (this.#moved && this.#deps.collect) {
        this.#moved = false;
        this.#deps.collect();
      }
      this.#deps.trim.trim();
    }
    this.#schedule();
  }
}

/**
 * The bridge's trimmer: opens `malloc_trim` and starts a `HeapTrimmer`, each
 * trim (after a full garbage collection, if the runtime allows one) logged at
 * debug with the resident memory before and after; null (said at debug) when
 * this process may not call it.
 */
export function startHeapTrimmer(
  activity: () => number,
  deps: { log: Logger; timers: Timers; open?: () => Trim | null; fullGc?: () => (() => void) | null },
): HeapTrimmer | null {
  const opened = (deps.open ?? openMallocTrim)();
  if (!opened) {
    deps.log.debug("Not trimming the C heap: glibc's malloc_trim is not open to this process");
    return null;
  }
  const collect = (deps.fullGc ?? openFullGc)();
  if (!collect) {
    deps.log.debug("Trimming the C heap without a full collection first: the runtime allows none");
  }
  let collectedMs: number | null = null;
  return new HeapTrimmer({
    activity,
    timers: deps.timers,
    collect: collect && (() => {
      const started = performance.now();
      collect();
      collectedMs = Math.round((performance.now() - started) * 10) / 10;
    }),
    trim: {
      trim: () => {
        const before = Deno.memoryUsage().rss;
        const started = performance.now();
        const returned = opened.trim();
        deps.log.debug("Trimmed the C heap", {
          rss_mib_before: mib(before),
          rss_mib_after: mib(Deno.memoryUsage().rss),
          ms: Math.round((performance.now() - started) * 10) / 10,
          ...(collectedMs === null ? {} : { collect_ms: collectedMs }), // the collection just before
        });
        collectedMs = null;
        return returned;
      },
      close: () => opened.close(),
    },
  });
}

function mib(bytes: number): number {
  return Math.round(bytes / 1048576);
}
