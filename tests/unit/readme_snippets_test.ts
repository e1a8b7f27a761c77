/**
 * The README's health-check and Prometheus snippets are what an operator
 * copies: the `[service]` INI lines load with our parser, the scrape job
 * passes `promtool check config` (Debian's `prometheus` package), and the
 * CloudWatch agent snippet is JSON that points at a scrape file and keeps
 * only metrics the bridge exports.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../config/config.ts";
import { iniToRaw } from "../../config/ini_file.ts";
import { PROMETHEUS_METRICS } from "../../handlers/http/prometheus.ts";

const README = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
const SECTION = README.slice(README.indexOf("## Health checks and Prometheus"));

function block(lang: string): string {
  const match = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(SECTION);
  assert.ok(match, `a \`\`\`${lang} block in the README's "Health checks and Prometheus"`);
  return match[1]!;
}

Deno.test("README: the [service] snippet loads and turns the endpoint on", () => {
  const ini = `[aws_mq]\nmq_url = amqp://127.0.0.1\nmq_qname_to_ws = a\nmq_qname_from_ws = b\n${
    block("ini")
  }`;
  const config = parseConfig(iniToRaw(ini, "README.md"), { ws: false, logs: false, metrics: false });
  assert.deepEqual(config.service.httpListen, { hostname: "0.0.0.0", port: 9464 });
});

Deno.test("README: the Prometheus scrape job passes promtool check config", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-readme-" });
  try {
    await Deno.writeTextFile(`${dir}/prometheus.yml`, block("yaml"));
    const out = await new Deno.Command("promtool", { args: ["check", "config", `${dir}/prometheus.yml`] })
      .output().catch((err) => {
        throw new Error("Cannot run promtool: install Debian's prometheus package", { cause: err });
      });
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /SUCCESS/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README: the CloudWatch agent snippet is JSON naming a scrape file and the bridge's metrics", () => {
  const agent = JSON.parse(block("json"));
  const prometheus = agent.logs.metrics_collected.prometheus;
  assert.match(prometheus.prometheus_config_path, /\.ya?ml$/);
  const declarations = prometheus.emf_processor.metric_declaration as {
    "source_labels": string[];
    "label_matcher": string;
    dimensions: string[][];
    "metric_selectors": string[];
  }[];
  const exported = PROMETHEUS_METRICS;
  for (const declaration of declarations) {
    assert.deepEqual(declaration.source_labels, ["job"]);
    assert.ok(new RegExp(declaration.label_matcher).test("mq2wsbridge"), "matches the scrape job's name");
    for (const selector of declaration.metric_selectors) {
      const selected = exported.filter((m) => new RegExp(selector).test(m.name));
      assert.ok(selected.length > 0, `${selector} selects a metric /metrics has`);
      for (const metric of selected) {
        // A labelled family kept without its label would add its sides up into one CloudWatch metric.
        const label = /^(\w+): /.exec(metric.labels)?.[1]; // "side: mq, ws"
        if (label) {
          assert.ok(
            declaration.dimensions.every((d) => d.includes(label)),
            `${metric.name} keeps its ${label}`,
          );
        }
      }
    }
  }
  for (const name of ["mq2wsbridge_to_ws_total", "mq2wsbridge_from_ws_total", "mq2wsbridge_connected"]) {
    assert.ok(
      declarations.some((d) => d.metric_selectors.some((s) => new RegExp(s).test(name))),
      `${name} is kept`,
    );
  }
});
