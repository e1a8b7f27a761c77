/**
 * Trimming the C heap (lib/heap_trim.ts): when HeapTrimmer trims, on timers
 * the test drives and a traffic count it sets; glibc's real malloc_trim
 * through FFI; and a process without the ffi permission, which gets no trim
 * and is not asked for one.
 */
import assert from "node:assert/strict";
import {
  BUSY_MESSAGES,
  CHECK_MS,
  HeapTrimmer,
  LIBC_PATHS,
  openFullGc,
  openMallocTrim,
  QUIET_TRIMS,
  startHeapTrimmer,
} from "../../lib/heap_trim.ts";
import { createLogger } from "../../lib/log.ts";
import { FakeTimers } from "../_fakes.ts";
import { WatchedSink } from "../_bridge.ts";

/** A trimmer on fake timers; `carried` is the traffic count it reads, `trims` how often it trimmed. */
function setup() {
  const timers = new FakeTimers();
  const state = { carried: 0, trims: 0, closed: 0 };
  const trimmer = new HeapTrimmer({
    activity: () => state.carried,
    timers,
    trim: { trim: () => (state.trims++, true), close: () => state.closed++ },
  });
  return { timers, state, trimmer };
}

Deno.test("HeapTrimmer trims at each quiet check, QUIET_TRIMS times, then waits for traffic", () => {
  const { timers, state, trimmer } = setup();
  timers.advance(CHECK_MS - 1);
  assert.equal(state.trims, 0, "nothing before the first check");
  timers.advance(1);
  assert.equal(state.trims, 1, "a quiet start trims");
  timers.advance(CHECK_MS * (QUIET_TRIMS + 5));
  assert.equal(state.trims, QUIET_TRIMS, "no more than QUIET_TRIMS in a row");
  trimmer.stop();
});

Deno.test("HeapTrimmer never trims under steady traffic, and trims again once it stops", () => {
  const { timers, state, trimmer } = setup();
  timers.advance(CHECK_MS * QUIET_TRIMS); // the quiet start used up
  const before = state.trims;
  for (let i = 0; i < 20; i++) {
    state.carried += BUSY_MESSAGES; // exactly busy
    timers.advance(CHECK_MS);
  }
  assert.equal(state.trims, before, "busy checks do not trim");
  timers.advance(CHECK_MS);
  assert.equal(state.trims, before + 1, "the first quiet check after traffic trims");
  timers.advance(CHECK_MS * 100);
  assert.equal(state.trims, before + QUIET_TRIMS, "and the count starts again from QUIET_TRIMS");
  trimmer.stop();
});

Deno.test("HeapTrimmer counts a trickle below BUSY_MESSAGES as quiet", () => {
  const { timers, state, trimmer } = setup();
  for (let i = 0; i < 3; i++) {
    state.carried += BUSY_MESSAGES - 1;
    timers.advance(CHECK_MS);
  }
  assert.equal(state.trims, 3);
  trimmer.stop();
});

Deno.test("HeapTrimmer.stop() leaves no timer, closes the trim once and trims no more", () => {
  const { timers, state, trimmer } = setup();
  timers.advance(CHECK_MS);
  trimmer.stop();
  trimmer.stop();
  assert.equal(timers.pending, 0);
  assert.equal(state.closed, 1);
  timers.advance(CHECK_MS * 10);
  assert.equal(state.trims, 1);
});

/** glibc's malloc, free and memset, opened the way openMallocTrim() opens malloc_trim. */
function openLibcForTest() {
  for (const path of LIBC_PATHS) {
    try {
      return Deno.dlopen(
        path,
        {
          malloc: { parameters: ["usize"], result: "pointer" },
          free: { parameters: ["pointer"], result: "void" },
          memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
        } as const,
      );
    } catch {
      // the next path
    }
  }
  throw new Error(`none of ${LIBC_PATHS.join(", ")} opens here`);
}

Deno.test("openMallocTrim() gives memory freed in the middle of the C heap back to the system", () => {
  const opened = openMallocTrim();
  assert.ok(opened, `one of ${LIBC_PATHS.join(", ")} opens here`);
  const libc = openLibcForTest();
  try {
    // 96 MiB in 64 KiB blocks (below glibc's mmap threshold: they come from the heap), each touched.
    const blocks = Array.from({ length: 1536 }, () => libc.symbols.malloc(65536n));
    for (const block of blocks) libc.symbols.memset(block, 1, 65536n);
    const last = blocks.pop(); // kept: the heap's top stays in use, so free() alone cannot shrink it
    for (const block of blocks) libc.symbols.free(block);
    const held = Deno.memoryUsage().rss;
    assert.equal(opened.trim(), true, "malloc_trim returned memory");
    const after = Deno.memoryUsage().rss;
    libc.symbols.free(last!);
    assert.ok(held - after > 64 * 1048576, `RSS ${held >> 20} MiB -> ${after >> 20} MiB`);
  } finally {
    libc.close();
    opened.close();
  }
});

Deno.test("openMallocTrim() is null when none of the paths opens", () => {
  assert.equal(openMallocTrim(["/nonexistent/libc.so.6", "/etc/hostname"]), null);
});

Deno.test("openMallocTrim() is null, and asks nothing, in a process without the ffi permission", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  const module = new URL("../../lib/heap_trim.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { openMallocTrim } from ${JSON.stringify(module)};\n` +
      `console.log(openMallocTrim() === null ? "no trim" : "trim");\n`,
  );
  // Every permission the bridge has but ffi; stdin closed, so a prompt would fail the run.
  const args = ["run", "--no-config", "--allow-net", "--allow-read", "--allow-env", "--allow-sys", script];
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output()
    .finally(() => Deno.remove(script));
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.equal(text.trim(), "no trim");
});

Deno.test("startHeapTrimmer() says at debug that it will not trim without malloc_trim", () => {
  const sink = new WatchedSink();
  const log = createLogger({ sink, info: true, debug: true });
  const trimmer = startHeapTrimmer(() => 0, { log, timers: new FakeTimers(), open: () => null });
  assert.equal(trimmer, null);
  assert.ok(sink.lines.some((line) => /DEBUG .*Not trimming the C heap/.test(line)), sink.lines.join("\n"));
});

Deno.test("startHeapTrimmer() logs each trim at debug with the resident memory before and after", () => {
  const sink = new WatchedSink();
  const log = createLogger({ sink, info: true, debug: true });
  const timers = new FakeTimers();
  const calls: string[] = [];
  const open = () => ({ trim: () => (calls.push("trim"), true), close: () => {} });
  const fullGc = () => () => void calls.push("gc");
  let carried = 0;
  const trimmer = startHeapTrimmer(() => carried, { log, timers, open, fullGc });
  timers.advance(CHECK_MS);
  assert.deepEqual(calls, ["trim"], "nothing carried yet: no collection");
  carried += 500; // a busy interval
  timers.advance(CHECK_MS);
  timers.advance(CHECK_MS);
  timers.advance(CHECK_MS);
  trimmer!.stop();
  assert.deepEqual(
    calls,
    ["trim", "gc", "trim", "trim"],
    "one collection per quiet spell, before its first trim",
  );
  assert.ok(sink.lines.some((line) => /Trimmed the C heap .* collect_ms=/.test(line)), sink.lines.join("\n"));
  assert.ok(
    sink.lines.some((line) =>
      /DEBUG .*Trimmed the C heap rss_mib_before=\d+ rss_mib_after=\d+ ms=/.test(line)
    ),
    sink.lines.join("\n"),
  );
});

Deno.test("openFullGc() collects garbage the moment it is called", () => {
  const gc = openFullGc();
  assert.ok(gc, "the runtime allows a full collection");
  gc(); // a clean start: what is measured below is this test's garbage
  const before = Deno.memoryUsage();
  let garbage: Uint8Array[] | null = Array.from({ length: 20_000 }, () => new Uint8Array(1_000));
  const held = Deno.memoryUsage();
  assert.ok(held.external - before.external > 15e6, `${held.external - before.external} B of buffers held`);
  garbage = null;
  gc();
  const after = Deno.memoryUsage();
  assert.equal(garbage, null);
  assert.ok(held.external - after.external > 15e6, `${held.external - after.external} B of buffers freed`);
});
