/**
 * CloudWatch metrics (`-m`). Hides the CloudWatch client: every
 * cw_metrics_resolution seconds it takes one snapshot of the in-process
 * metrics and sends all of it in a single PutMetricData call, with the
 * dimensions `instance_id` and `pid`; one last call goes out on close.
 *
 * Publishing runs beside the message path and never in it: a failed or slow
 * call is logged and counted (`cw_metrics_publish_failures_total`, in the
 * registry, so the next call and /metrics show it), never thrown, and a tick
 * that finds the previous call still running is skipped rather than queued. A failure that lasts (a
 * role without `cloudwatch:PutMetricData`, say) is a WARN when it starts and
 * then at most one every `warnEveryMs`, with the count since, so it neither
 * floods the log nor goes quiet.
 */
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { Logger } from "../../lib/log.ts";
import { awsClientConfig, awsErrorReason, type AwsOptions, withDeadline } from "./client.ts";
import { CW_METRICS_PUBLISH_FAILURES_TOTAL, type Metrics, type MetricsSnapshot } from "../../lib/metrics.ts";
import { metricData, storageResolution, type TimedSnapshot } from "./metric_data.ts";

/** What to publish, where, and how often. */
export interface MetricsPublisherOptions extends AwsOptions {
  namespace: string;
  resolutionSecs: number;
  /** The in-process metrics (a `MetricsRegistry`): what is published, and where failures are counted. */
  source: { snapshot(): MetricsSnapshot } & Pick<Metrics, "count">;
  log: Logger;
  /** Looks up the EC2 instance id (IMDSv2); null off EC2, where `local-<hostname>` is used. */
  instanceId?: () => Promise<string | null>;
  /** Default: `Deno.hostname()`. */
  hostname?: string;
  /** Default: `Deno.pid`. */
  pid?: number;
  /** How long close may take, a publish in flight and the final one included (default 3000 ms). */
  closeTimeoutMs?: number;
  /** While publishing keeps failing, the least time between two WARN lines (default 300,000 ms). */
  warnEveryMs?: number;
  now?: () => number;
}

/** A running publisher; close it to send the last values. */
export interface MetricsPublisher extends AsyncDisposable {
  /** The dimensions every data point carries. */
  readonly dimensions: Readonly<Record<"instance_id" | "pid", string>>;
  readonly stats: Readonly<{ published: number; failures: number; skipped: number }>;
  /** Publishes now; resolves false when the call failed (it never rejects). */
  publish(): Promise<boolean>;
  /** Sends the last values within `timeoutMs` (default `closeTimeoutMs`), then stops. */
  close(timeoutMs?: number): Promise<void>;
}

/** Resolves the dimensions and starts publishing every `resolutionSecs`. */
export async function startMetricsPublisher(options: MetricsPublisherOptions): Promise<MetricsPublisher> {
  const id = await options.instanceId?.().catch(() => null) ?? null;
  const dimensions = {
    "instance_id": id ?? `local-${options.hostname ?? Deno.hostname()}`,
    pid: String(options.pid ?? Deno.pid),
  };
  return new Publisher(options, dimensions);
}

class Publisher implements MetricsPublisher {
  readonly dimensions: Readonly<Record<"instance_id" | "pid", string>>;
  #options: MetricsPublisherOptions;
  #client: CloudWatchClient;
  #log: Logger;
  #now: () => number;
  #previous: TimedSnapshot;
  #stats = { published: 0, failures: 0, skipped: 0 };
  #inFlight: Promise<boolean> | null = null;
  #timer: ReturnType<typeof setInterval>;
  #stop = new AbortController();
  #failingSince: number | null = null;
  #lastWarning = 0;
  #failuresSinceWarning = 0;
  #closing: Promise<void> | null = null;

  constructor(options: MetricsPublisherOptions, dimensions: Record<"instance_id" | "pid", string>) {
    this.#options = options;
    this.dimensions = Object.freeze(dimensions);
    const intervalMs = options.resolutionSecs * 1000;
    // One call may not outlast its interval: the next snapshot would be due.
    const requestTimeoutMs = options.requestTimeoutMs ?? Math.min(5_000, intervalMs);
    this.#client = new CloudWatchClient(
      awsClientConfig({ ...options, maxAttempts: options.maxAttempts ?? 2, requestTimeoutMs }),
    );
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#previous = { time: this.#now(), counters: {}, gauges: {} };
    this.#timer = setInterval(() => {
      if (this.#inFlight) this.#stats.skipped++;
      else void this.publish();
    }, intervalMs);
  }

  get stats() {
    return { ...this.#stats };
  }

  publish(): Promise<boolean> {
    return this.#inFlight ??= this.#publish().finally(() => (this.#inFlight = null));
  }

  close(timeoutMs?: number): Promise<void> {
    return this.#closing ??= this.#close(timeoutMs ?? this.#options.closeTimeoutMs ?? 3_000);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(ms: number): Promise<void> {
    clearInterval(this.#timer);
    try {
      // The call in flight and the final one share the deadline: a silent endpoint cannot stretch it.
      await withDeadline(ms, async () => {
        await this.#inFlight;
        await this.publish();
      });
    } catch {
      this.#log.warn("Cannot publish the final metrics: CloudWatch did not answer in time", { ms });
    }
    this.#stop.abort(); // ends a call still in flight at once
    await this.#inFlight;
    this.#client.destroy();
  }

  #warned(time: number): void {
    this.#lastWarning = time;
    this.#failuresSinceWarning = 0;
  }

  async #publish(): Promise<boolean> {
    const snapshot = this.#options.source.snapshot();
    // Histograms are left out: CloudWatch would need their minimum and maximum too (a StatisticSet).
    const current: TimedSnapshot = {
      time: this.#now(),
      counters: snapshot.counters,
      gauges: snapshot.gauges,
    };
    const data = metricData(
      this.#previous,
      current,
      this.dimensions,
      storageResolution(this.#options.resolutionSecs),
    );
    this.#previous = current;
    try {
      await this.#client.send(
        new PutMetricDataCommand({ Namespace: this.#options.namespace, MetricData: data }),
        { abortSignal: this.#stop.signal },
      );
      this.#stats.published++;
      if (this.#failingSince !== null) {
        this.#log.info("Publishing metrics to CloudWatch works again", { failures: this.#stats.failures });
        this.#failingSince = null;
      }
      this.#failuresSinceWarning = 0;
      return true;
    } catch (err) {
      this.#stats.failures++;
      this.#options.source.count(CW_METRICS_PUBLISH_FAILURES_TOTAL);
      this.#failuresSinceWarning++;
      const fields = {
        namespace: this.#options.namespace,
        error: awsErrorReason(err, undefined, "cloudwatch:PutMetricData"),
      };
      const every = this.#options.warnEveryMs ?? 300_000;
      if (this.#failingSince === null) {
        this.#failingSince = current.time;
        this.#warned(current.time);
        this.#log.warn("Cannot publish metrics to CloudWatch; will keep trying every interval", fields);
      } else if (current.time - this.#lastWarning >= every) {
        const failures = this.#failuresSinceWarning;
        this.#warned(current.time);
        this.#log.warn("Cannot publish metrics to CloudWatch, still", {
          ...fields,
          failures,
          since: new Date(this.#failingSince).toISOString(),
        });
      } else {
        this.#log.debug("Cannot publish metrics to CloudWatch", fields);
      }
      return false;
    }
  }
}
