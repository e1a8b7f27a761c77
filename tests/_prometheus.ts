/**
 * Test fixture: a real Prometheus server (Debian's `prometheus` package) on
 * loopback, scraping the targets it is given once a second, with its storage
 * in a temporary directory; and its query API. A free port is reserved by
 * binding it and handed over; a lost race is retried.
 */
import { Program } from "../tools/program.ts";

/** A running Prometheus. */
export interface PrometheusServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** An instant query; the samples of the result vector (labels and value). */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
}

/** Starts Prometheus scraping `targets` (`HOST:PORT`, path /metrics) as job `job`, every second. */
export async function startPrometheus(targets: string[], job = "mq2wsbridge"): Promise<PrometheusServer> {
  const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-prometheus-" });
  const config = `${dir}/prometheus.yml`;
  await Deno.writeTextFile(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "scrape_configs:",
      `  - job_name: ${job}`,
      "    static_configs:",
      `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
    ].join("\n") + "\n",
  );
  const failures: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const reserved = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = reserved.addr.port;
    reserved.close();
    let server: Program;
    try {
      server = new Program("prometheus", [
        `--config.file=${config}`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
      ]);
    } catch (err) {
      await Deno.remove(dir, { recursive: true });
      throw new Error("Cannot run prometheus: install Debian's package (apt-get install -y prometheus)", {
        cause: err,
      });
    }
    const ready = await Promise.race([
      server.waitForLine(/Server is ready to receive web requests/, 30_000).then(() => true),
      server.status.then(() => false),
    ]).catch(() => false);
    if (ready) {
      const url = `http://127.0.0.1:${port}`;
      return {
        url,
        query: async (promql) => {
          const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
          const body = await response.json();
          if (body.status !== "success") {
            throw new Error(`Prometheus query ${promql}: ${JSON.stringify(body)}`);
          }
          return body.data.result.map((r: { metric: Record<string, string>; value: [number, string] }) => ({
            metric: r.metric,
            value: Number(r.value[1]),
          }));
        },
        [Symbol.asyncDispose]: async () => {
          server.kill("SIGTERM");
          await server.exit(10_000);
          await Deno.remove(dir, { recursive: true });
        },
      };
    }
    server.kill("SIGKILL");
    await server.exit();
    failures.push(server.output.split("\n").slice(-3).join("\n"));
  }
  await Deno.remove(dir, { recursive: true });
  throw new Error(
    `Cannot start prometheus (Debian's package: apt-get install -y prometheus):\n${failures.join("\n---\n")}`,
  );
}
