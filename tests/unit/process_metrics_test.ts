import assert from "node:assert/strict";
import process from "node:process";
import {
  parseMaxFds,
  parseVirtualBytes,
  PROCESS_METRICS,
  type ProcessSources,
  readProcessSample,
  systemSources,
} from "../../handlers/http/process_metrics.ts";
import { permissionsOf } from "../../scripts/programs.ts";

// These tests run with --allow-all, so /proc is readable: every value is there.

/** Runs `code`, which may use `readProcessSample`, as a program of its own with `flags`. */
async function runDeno(flags: string[], code: string) {
  const module = new URL("../../handlers/http/process_metrics.ts", import.meta.url).href;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(`import { readProcessSample } from ${JSON.stringify(module)};\n${code}`),
  );
  await writer.close();
  const out = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { success: out.success, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("readProcessSample() reads resident and virtual memory that fit this process", () => {
  const sample = readProcessSample();
  const rss = sample.process_resident_memory_bytes!;
  assert.ok(rss > 10 * 2 ** 20, `rss ${rss}: a Deno process holds more than 10 MiB`);
  const status = Deno.readTextFileSync("/proc/self/status");
  const vmRss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
  assert.ok(Math.abs(rss - vmRss) < 0.2 * vmRss, `rss ${rss} against VmRSS ${vmRss}`);
  assert.ok(sample.process_virtual_memory_bytes! > rss);
});

Deno.test("readProcessSample() counts CPU seconds that grow with work", () => {
  const before = readProcessSample().process_cpu_seconds_total!;
  assert.ok(before > 0);
  // Spin until the sample shows 20 ms more: a value that never moves fails at the deadline.
  const deadline = performance.now() + 5_000;
  let cpu = before;
  while (cpu - before < 0.02 && performance.now() < deadline) {
    cpu = readProcessSample().process_cpu_seconds_total!;
  }
  assert.ok(cpu - before >= 0.02, `5 s of spinning added ${cpu - before} s of CPU time`);
});

Deno.test("readProcessSample() gives a start time within the last hour", () => {
  const start = readProcessSample().process_start_time_seconds!;
  const now = Date.now() / 1000;
  assert.ok(start <= now && start > now - 3600, `start ${start}, now ${now}`);
});

Deno.test("readProcessSample() gives a program's start time to within a second of /proc's", async () => {
  // In a program of its own, as the bridge is: under deno test each module has its own worker,
  // whose time origin is when the module started.
  const { stdout, stderr, success } = await runDeno(
    ["--allow-all"],
    `
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
    // Field 22 is the start in clock ticks after boot, 100 a second on Linux.
    const fromProc = Date.now() / 1000 - (uptime - ticks / 100);
    console.log(JSON.stringify({ fromProc, start: readProcessSample().process_start_time_seconds }));
  `,
  );
  assert.ok(success, stderr);
  const { fromProc, start } = JSON.parse(stdout);
  assert.ok(Math.abs(start - fromProc) < 1, `start ${start}, /proc says ${fromProc}`);
});

Deno.test("readProcessSample() counts one more open descriptor while a file is open", () => {
  const before = readProcessSample().process_open_fds!;
  const file = Deno.openSync(new URL(import.meta.url));
  try {
    assert.equal(readProcessSample().process_open_fds, before + 1);
  } finally {
    file.close();
  }
  assert.equal(readProcessSample().process_open_fds, before);
});

Deno.test("readProcessSample() gives the soft limit on descriptors that the shell's ulimit -n shows", async () => {
  const out = await new Deno.Command("sh", { args: ["-c", "ulimit -n"], stdout: "piped" }).output();
  const limit = new TextDecoder().decode(out.stdout).trim();
  const sample = readProcessSample();
  if (limit === "unlimited") assert.equal(sample.process_max_fds, undefined);
  else assert.equal(sample.process_max_fds, Number(limit));
});

Deno.test("readProcessSample() under the bridge's compiled permissions: /proc is refused, the runtime's three remain", async () => {
  const { stdout, stderr, success } = await runDeno(
    permissionsOf("mq2wsbridge"),
    `
    let refused = "";
    try { Deno.readTextFileSync("/proc/self/stat"); } catch (err) { refused = err.name; }
    console.log(JSON.stringify({ refused, sample: readProcessSample() }));
  `,
  );
  assert.ok(success, stderr);
  const { refused, sample } = JSON.parse(stdout);
  assert.equal(refused, "NotCapable", "Deno reads /proc only with --allow-all: the module comment says so");
  assert.deepEqual(Object.keys(sample).toSorted(), [
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
  ]);
  assert.ok(sample.process_resident_memory_bytes > 0 && sample.process_cpu_seconds_total > 0);
});

Deno.test("readProcessSample() leaves out what cannot be read, and never throws", () => {
  const refused = () => {
    throw new Deno.errors.NotCapable("Requires all access");
  };
  const none: ProcessSources = {
    rss: refused,
    cpuMicros: refused,
    startMs: refused,
    readTextFile: refused,
    countEntries: refused,
  };
  assert.deepEqual(readProcessSample(none), {});
  const odd: ProcessSources = {
    ...systemSources,
    rss: () => NaN,
    cpuMicros: () => ({ user: -1, system: 0 }),
    readTextFile: () => "garbage",
  };
  assert.deepEqual(Object.keys(readProcessSample(odd)).toSorted(), [
    "process_open_fds",
    "process_start_time_seconds",
  ]);
});

Deno.test("parseVirtualBytes() reads field 23 after a command name holding spaces and parentheses", () => {
  const rest = "S 1 1 1 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 9 0 1234 18594287616 1000";
  assert.equal(parseVirtualBytes(`4242 (a (b) c) ${rest}`), 18594287616);
  assert.equal(parseVirtualBytes("4242 (x) S 1"), null);
});

Deno.test("parseMaxFds() reads the soft limit of Max open files; unlimited is left out", () => {
  const limits = (soft: string) =>
    "Limit                     Soft Limit           Hard Limit           Units     \n" +
    "Max processes             127368               127368               processes \n" +
    `Max open files            ${soft.padEnd(21)}1048576              files     \n`;
  assert.equal(parseMaxFds(limits("1024")), 1024);
  assert.equal(parseMaxFds(limits("unlimited")), null);
  assert.equal(parseMaxFds(""), null);
});

Deno.test("PROCESS_METRICS names what Prometheus' client libraries name, with their types", () => {
  assert.deepEqual(PROCESS_METRICS.map(({ name, type }) => `${name} ${type}`), [
    "process_cpu_seconds_total counter",
    "process_open_fds gauge",
    "process_max_fds gauge",
    "process_virtual_memory_bytes gauge",
    "process_resident_memory_bytes gauge",
    "process_start_time_seconds gauge",
  ]);
  assert.ok(process.cpuUsage().user > 0, "node:process gives the CPU time under Deno");
});
