import assert from "node:assert/strict";
import * as M from "../../lib/metrics.ts";
import {
  escapeHelp,
  escapeLabelValue,
  formatNumber,
  PROMETHEUS_CONTENT_TYPE,
  PROMETHEUS_METRICS,
  renderPrometheus,
} from "../../handlers/http/prometheus.ts";
import { readProcessSample } from "../../handlers/http/process_metrics.ts";

const BUILD = { version: "0.1.0", runtime: "deno 2.9.6" };

function render(registry: M.MetricsRegistry, build: Record<string, string> = BUILD): string {
  return renderPrometheus({ snapshot: registry.snapshot(), process: null, build });
}

/** The lines of one family: its HELP and TYPE, then its samples. */
function family(text: string, name: string): string[] {
  const lines = text.split("\n");
  const start = lines.indexOf(lines.find((line) => line.startsWith(`# HELP ${name} `))!);
  assert.ok(start >= 0, `no family ${name} in:\n${text}`);
  const end = lines.findIndex((line, i) => i > start + 1 && line.startsWith("# HELP "));
  return lines.slice(start, end < 0 ? lines.length - 1 : end);
}

/** Every registry name in use, as the running bridge has them. */
function busyRegistry(): M.MetricsRegistry {
  const registry = new M.MetricsRegistry();
  for (const [name, { kind }] of Object.entries(M.METRIC_INFO)) {
    if (kind === "counter") registry.count(name, 3);
    if (kind === "gauge") registry.gauge(name, () => 1);
  }
  for (const seconds of [0.0004, 0.0012, 0.003, 0.003, 0.02, 0.7, 12]) {
    registry.observe(M.FROM_WS_CONFIRM_SECONDS, seconds);
  }
  return registry;
}

Deno.test("renderPrometheus() renders a counter with its HELP from METRIC_INFO and its TYPE", () => {
  const registry = new M.MetricsRegistry();
  registry.count(M.TO_WS_TOTAL, 42);
  assert.deepEqual(family(render(registry), "mq2wsbridge_to_ws_total"), [
    `# HELP mq2wsbridge_to_ws_total ${M.METRIC_INFO[M.TO_WS_TOTAL]!.help}`,
    "# TYPE mq2wsbridge_to_ws_total counter",
    "mq2wsbridge_to_ws_total 42",
  ]);
});

Deno.test("renderPrometheus() shows every known counter, every side included, at 0 before anything counts", () => {
  const text = render(new M.MetricsRegistry());
  assert.deepEqual(family(text, "mq2wsbridge_from_ws_dropped_total").slice(2), [
    "mq2wsbridge_from_ws_dropped_total 0",
  ]);
  assert.deepEqual(family(text, "mq2wsbridge_connections_lost_total").slice(2), [
    'mq2wsbridge_connections_lost_total{side="mq"} 0',
    'mq2wsbridge_connections_lost_total{side="ws"} 0',
  ]);
  assert.doesNotMatch(
    text,
    /^mq2wsbridge_(to_ws_unacked|from_ws_buffered|connected)\b/m,
    "no gauge is made up",
  );
});

Deno.test("renderPrometheus() makes one labelled family of the per-side names: one HELP and TYPE, every sample", () => {
  const registry = new M.MetricsRegistry();
  registry.count(M.MQ_CONNECTION_ATTEMPTS_TOTAL, 2);
  registry.count(M.WS_CONNECTION_ATTEMPTS_TOTAL, 5);
  registry.gauge(M.MQ_CONSUME_CONNECTED, () => 1);
  registry.gauge(M.WS_CONNECTED, () => 0);
  const text = render(registry);
  assert.deepEqual(family(text, "mq2wsbridge_connection_attempts_total"), [
    "# HELP mq2wsbridge_connection_attempts_total Connection attempts, first connections and reconnections, by side (mq: the broker, ws: the WebSocket API)",
    "# TYPE mq2wsbridge_connection_attempts_total counter",
    'mq2wsbridge_connection_attempts_total{side="mq"} 2',
    'mq2wsbridge_connection_attempts_total{side="ws"} 5',
  ]);
  assert.deepEqual(family(text, "mq2wsbridge_connected").slice(1), [
    "# TYPE mq2wsbridge_connected gauge",
    'mq2wsbridge_connected{side="mq_consume"} 1',
    'mq2wsbridge_connected{side="ws"} 0',
  ], "only the sides registered");
  assert.doesNotMatch(text, /mq_connection_attempts|ws_connected|mq_consume_connected/, "no per-side name");
  assert.equal(text.match(/^# TYPE mq2wsbridge_connected /gm)?.length, 1);
});

Deno.test("renderPrometheus() renders gauges as read at snapshot time", () => {
  const registry = new M.MetricsRegistry();
  let held = 3;
  registry.gauge(M.FROM_WS_BUFFERED_BYTES, () => held);
  held = 4096;
  assert.deepEqual(family(render(registry), "mq2wsbridge_from_ws_buffered_bytes"), [
    `# HELP mq2wsbridge_from_ws_buffered_bytes ${M.METRIC_INFO[M.FROM_WS_BUFFERED_BYTES]!.help}`,
    "# TYPE mq2wsbridge_from_ws_buffered_bytes gauge",
    "mq2wsbridge_from_ws_buffered_bytes 4096",
  ]);
});

Deno.test("renderPrometheus() renders a histogram as cumulative buckets ending with +Inf, then _sum and _count", () => {
  const registry = new M.MetricsRegistry();
  for (const seconds of [0.0002, 0.001, 0.004, 0.3, 30]) registry.observe(M.FROM_WS_CONFIRM_SECONDS, seconds);
  const name = "mq2wsbridge_from_ws_confirm_seconds";
  assert.deepEqual(family(render(registry), name), [
    `# HELP ${name} Seconds from publishing a WebSocket message to the broker's confirmation of it`,
    `# TYPE ${name} histogram`,
    `${name}_bucket{le="0.0005"} 1`,
    `${name}_bucket{le="0.001"} 2`,
    `${name}_bucket{le="0.0025"} 2`,
    `${name}_bucket{le="0.005"} 3`,
    `${name}_bucket{le="0.01"} 3`,
    `${name}_bucket{le="0.025"} 3`,
    `${name}_bucket{le="0.05"} 3`,
    `${name}_bucket{le="0.1"} 3`,
    `${name}_bucket{le="0.25"} 3`,
    `${name}_bucket{le="0.5"} 4`,
    `${name}_bucket{le="1"} 4`,
    `${name}_bucket{le="2.5"} 4`,
    `${name}_bucket{le="5"} 4`,
    `${name}_bucket{le="10"} 4`,
    `${name}_bucket{le="+Inf"} 5`,
    `${name}_sum ${0.0002 + 0.001 + 0.004 + 0.3 + 30}`,
    `${name}_count 5`,
  ]);
});

Deno.test("renderPrometheus() renders mq2wsbridge_build_info as a gauge of 1 with the build's labels, escaped", () => {
  const text = render(new M.MetricsRegistry(), { version: '1.0 "rc"', commit: "a\\b", "bad-name": "x\ny" });
  assert.deepEqual(family(text, "mq2wsbridge_build_info"), [
    "# HELP mq2wsbridge_build_info The build, in its labels; always 1",
    "# TYPE mq2wsbridge_build_info gauge",
    'mq2wsbridge_build_info{version="1.0 \\"rc\\"",commit="a\\\\b",bad_name="x\\ny"} 1',
  ]);
  assert.deepEqual(
    family(render(new M.MetricsRegistry(), {}), "mq2wsbridge_build_info")[2],
    "mq2wsbridge_build_info 1",
  );
});

Deno.test("escapeLabelValue() and escapeHelp() escape what the format says, and only that", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd\te'), 'a\\\\b\\"c\\nd\te');
  assert.equal(escapeHelp('a\\b"c\nd'), 'a\\\\b"c\\nd');
});

Deno.test("formatNumber() writes integers plain, floats as JavaScript does, NaN and the infinities as Prometheus does", () => {
  assert.deepEqual(
    [0, 7, -3, 123456789012, 0.25, 1e-7, 1.5e300, NaN, Infinity, -Infinity].map(formatNumber),
    ["0", "7", "-3", "123456789012", "0.25", "1e-7", "1.5e+300", "NaN", "+Inf", "-Inf"],
  );
});

Deno.test("renderPrometheus() renders names it does not know: prefixed, made valid, a counter ending in _total", () => {
  const registry = new M.MetricsRegistry();
  registry.count("future.retries");
  registry.count("future_events_total", 2);
  registry.gauge("future_depth", () => 1.5);
  registry.count("connected", 9); // would be mq2wsbridge_connected_total: no clash with the gauge family
  const text = render(registry);
  assert.deepEqual(family(text, "mq2wsbridge_future_retries_total"), [
    `# HELP mq2wsbridge_future_retries_total mq2wsbridge's counter "future.retries" (not described yet)`,
    "# TYPE mq2wsbridge_future_retries_total counter",
    "mq2wsbridge_future_retries_total 1",
  ]);
  assert.match(text, /^# TYPE mq2wsbridge_future_events_total counter\nmq2wsbridge_future_events_total 2$/m);
  assert.match(text, /^# TYPE mq2wsbridge_future_depth gauge\nmq2wsbridge_future_depth 1.5$/m);
  assert.match(text, /^mq2wsbridge_connected_total 9$/m);
});

Deno.test("renderPrometheus() never repeats a family: a new name that maps onto a known one is left out", () => {
  const registry = new M.MetricsRegistry();
  registry.count("to_ws", 5); // would render as mq2wsbridge_to_ws_total
  registry.count(M.TO_WS_TOTAL, 1);
  const text = render(registry);
  assert.equal(text.match(/^# TYPE mq2wsbridge_to_ws_total /gm)?.length, 1);
  assert.match(text, /^mq2wsbridge_to_ws_total 1$/m);
});

Deno.test("renderPrometheus() renders the process sample's values with the standard HELP and TYPE, none for null", () => {
  const snapshot = new M.MetricsRegistry().snapshot();
  const text = renderPrometheus({
    snapshot,
    process: { process_resident_memory_bytes: 52428800, process_cpu_seconds_total: 1.25 },
    build: BUILD,
  });
  assert.deepEqual(family(text, "process_cpu_seconds_total"), [
    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
    "# TYPE process_cpu_seconds_total counter",
    "process_cpu_seconds_total 1.25",
  ]);
  assert.match(text, /^process_resident_memory_bytes 52428800$/m);
  assert.doesNotMatch(text, /process_open_fds/, "a value not read is left out");
  assert.doesNotMatch(renderPrometheus({ snapshot, process: null, build: BUILD }), /process_/);
});

Deno.test("renderPrometheus() ends with a newline, declares each family once, and every sample belongs to one", () => {
  const text = renderPrometheus({
    snapshot: busyRegistry().snapshot(),
    process: readProcessSample(),
    build: BUILD,
  });
  assert.ok(text.endsWith("\n") && !text.endsWith("\n\n"));
  const types = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
  assert.equal(new Set(types).size, types.length);
  for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
    const name = line.split(/[{ ]/)[0]!;
    assert.ok(types.some((t) => name === t || name.replace(/_(bucket|sum|count)$/, "") === t), line);
  }
});

Deno.test("PROMETHEUS_CONTENT_TYPE is the text format's, version 0.0.4", () => {
  assert.equal(PROMETHEUS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("PROMETHEUS_METRICS lists each family renderPrometheus() shows for a busy registry, in order", () => {
  const text = renderPrometheus({
    snapshot: busyRegistry().snapshot(),
    process: readProcessSample(),
    build: BUILD,
  });
  const shown = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(shown, PROMETHEUS_METRICS.map(({ name, type }) => `${name} ${type}`));
  for (const { name, help } of PROMETHEUS_METRICS) {
    assert.match(text, new RegExp(`^# HELP ${name} .+$`, "m"), help);
  }
});

Deno.test("docs/operations.md's Prometheus table lists every metric with the code's type, labels and HELP", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/operations.md", import.meta.url));
  const section = doc.slice(doc.indexOf("## Prometheus metrics"), doc.indexOf("## AWS endpoints"));
  const rows = [...section.matchAll(/^\| `(\w+)` +\|(.*)\|$/gm)].map((m) => {
    const [type, labels, meaning] = m[2]!.split("|").map((cell) => cell.trim().replaceAll("`", ""));
    return { name: m[1]!, type: type!, labels: labels!, help: meaning! };
  });
  assert.deepEqual(rows, PROMETHEUS_METRICS.map((m) => ({ ...m })));
});

/** Runs `promtool check metrics` on `text`; fails with what to install when promtool is missing. */
async function promtool(text: string): Promise<{ code: number; output: string }> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    throw new Error(
      "Cannot run promtool: it is not installed; install Debian's prometheus package " +
        "(apt-get install --no-install-recommends prometheus; .ci/run does)",
      { cause: err },
    );
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, output: (decode(stdout) + decode(stderr)).trim() };
}

Deno.test("promtool check metrics accepts what a busy bridge renders, without a single lint warning", async () => {
  const text = renderPrometheus({
    snapshot: busyRegistry().snapshot(),
    process: readProcessSample(),
    build: { version: "0.1.0", commit: "8988e8b", target: "x86_64-unknown-linux-gnu", runtime: "deno 2.9.6" },
  });
  assert.deepEqual(await promtool(text), { code: 0, output: "" }, text);
});

Deno.test("promtool check metrics accepts what a bridge renders at start, before anything counted", async () => {
  const text = renderPrometheus({ snapshot: new M.MetricsRegistry().snapshot(), process: null, build: {} });
  assert.deepEqual(await promtool(text), { code: 0, output: "" }, text);
});

Deno.test("promtool check metrics, as run here, does report lint problems (so the two tests above can fail)", async () => {
  const { code, output } = await promtool("# HELP requests Requests\n# TYPE requests counter\nrequests 1\n");
  assert.notEqual(code, 0);
  assert.match(output, /counter metrics should have "_total" suffix/);
});
