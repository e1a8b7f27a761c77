/** bench/procstat.ts: CPU time and resident memory read from /proc (parsers pure; one live read of this process). */
import assert from "node:assert/strict";
import {
  clockTicks,
  CpuMeter,
  cpuTicks,
  memoryOf,
  parseCpuTicks,
  parseMemory,
} from "../../bench/procstat.ts";

Deno.test("parseCpuTicks() adds utime and stime, even when the process name holds spaces and parentheses", () => {
  const stat = "4242 (deno (main) x) S 1 4242 4242 0 -1 4194560 9050 0 0 0 731 89 0 0 20 0 6 0 1234 0 0";
  assert.equal(parseCpuTicks(stat, 4242), 731 + 89);
});

Deno.test("parseCpuTicks() names the process when the line is not a stat line", () => {
  assert.throws(() => parseCpuTicks("4242 (deno) S 1", 4242), /process 4242/);
});

Deno.test("parseMemory() reads VmRSS and VmHWM in KiB", () => {
  const status = "Name:\tdeno\nVmPeak:\t 1000 kB\nVmHWM:\t  150000 kB\nVmRSS:\t  140000 kB\nThreads:\t6\n";
  assert.deepEqual(parseMemory(status, 1), { rssKiB: 140_000, peakKiB: 150_000 });
  assert.throws(() => parseMemory("Name:\tdeno\n", 1), /VmRSS/);
});

Deno.test("CpuMeter reports CPU seconds per 10,000 messages of a live process", async () => {
  const ticks = await clockTicks();
  assert.ok(ticks > 0);
  const meter = new CpuMeter(Deno.pid, ticks);
  assert.equal(meter.secsPer10k, null);
  const before = await cpuTicks(Deno.pid);
  await meter.measure(() => {
    const until = performance.now() + 200;
    while (performance.now() < until) { /* burn CPU */ }
    return Promise.resolve(5_000);
  }, (n) => n);
  assert.ok((await cpuTicks(Deno.pid)) >= before);
  assert.ok(meter.secs > 0, `${meter.secs} s`);
  assert.ok(Math.abs(meter.secsPer10k! - meter.secs * 2) < 1e-9);
  const memory = await memoryOf(Deno.pid);
  assert.ok(memory.rssKiB > 0 && memory.peakKiB >= memory.rssKiB);
});
