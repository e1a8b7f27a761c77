/**
 * Test fixture: a real Prometheus server (Debian's `prometheus` package) on
 * loopback, scraping the targets it is given once a second, with its storage
 * in a temporary directory, on a port it picks (port 0; it logs the one it
 * got); and its query API.
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
  let server: Program;
  try {
    server = new Program("prometheus", [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dir}/data`,
      "--web.listen-address=127.0.0.1:0", // it logs the port it was given
    ]);
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw new Error("Cannot run prometheus: install Debian's package (apt-get install -y prometheus)", {
      cause: err,
    });
  }
  const exited = server.status.then(() => null);
  const listening = await Promise.race([server.waitForLine(/msg="Listening on"/, 30_000), exited]);
  const ready = listening && await Promise.race([
    server.waitForLine(/Server is ready to receive web requests/, 30_000),
    exited,
  ]);
  if (!listening || !ready) {
    server.kill("SIGKILL");
    await server.exit();
    await Deno.remove(dir, { recursive: true });
    throw new Error(`Prometheus did not start:\n${server.output.split("\n").slice(-5).join("\n")}`);
  }
  const url = `http://${/address=(\S+)/.exec(listening)![1]}`;
  return {
    url,
    query: async (promql) => {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = await response.json();
      if (body.status !== "success") throw new Error(`Prometheus query ${promql}: ${JSON.stringify(body)}`);
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
