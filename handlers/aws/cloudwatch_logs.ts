/**
 * CloudWatch Logs as a `LogSink` (`-l`). Hides the CloudWatch Logs client:
 * creates the log group and stream if missing, applies the retention policy,
 * and sends buffered lines in batches within the service limits, every few
 * seconds, when a full batch is waiting, and on `flush()`/`close()`.
 *
 * A least-privilege role may allow only `logs:PutLogEvents`, the group and
 * stream being made beforehand (CloudFormation, Terraform). So each set-up
 * call that is denied is one WARN line, naming the permission, sent with the
 * other lines; it is not tried again, and sending goes on. "Already exists"
 * is success.
 *
 * `write` only appends to a bounded buffer, so a slow or dead endpoint never
 * holds up the caller. No line is dropped silently: a batch CloudWatch will
 * not take after retries, a line that finds the buffer full, and whatever is
 * left when `close()` runs out of time are written to the fallback (stderr),
 * and the first such line of an episode is preceded by one notice saying so.
 */
import { CloudWatchLogsClient, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { consoleSink, formatRecord, type Level, type LogFormat, type LogSink } from "../../lib/log.ts";
import { Redactor } from "../../lib/secret.ts";
import { awsClientConfig, awsErrorReason, awsFailure, type AwsOptions, withDeadline } from "./client.ts";
import { type SetupStep, setupSteps } from "./cloudwatch_logs_setup.ts";
import { batchSize, type LogEvent, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, toEvent } from "./log_batch.ts";

/** Where to send lines, and how patiently. */
export interface CloudWatchLogsOptions extends AwsOptions {
  logGroup: string;
  logStream: string;
  retentionDays: number;
  /** How often buffered lines are sent, in ms (default 2000). */
  flushIntervalMs?: number;
  /** Buffer bounds; a line past them goes to the fallback (default 20,000 lines, 8 MiB). */
  maxBufferedEvents?: number;
  maxBufferedBytes?: number;
  /** Tries of one batch, each with the SDK's own retries, before it goes to the fallback (default 3). */
  batchAttempts?: number;
  /** Wait before the second try, doubling after (default 1000 ms, at most 30 s). */
  retryDelayMs?: number;
  /** How long `close()` may take; what is still buffered then goes to the fallback (default 5000 ms). */
  closeTimeoutMs?: number;
  /**
   * While CloudWatch fails, how long the one try of a batch may take, set-up
   * calls included, before its lines go to the fallback (default 5000 ms).
   */
  failingAttemptMs?: number;
  /** How long opening may wait for group, retention and stream (default 5000 ms). */
  setupTimeoutMs?: number;
  /** Where lines go when CloudWatch cannot take them (default: standard error). */
  fallback?: (line: string) => void;
  /** The format of the sink's own lines, as the logger's (default `text`); other lines are sent as written. */
  format?: LogFormat;
}

/** Counters for the metrics publisher and tests. */
export interface CloudWatchLogsStats {
  /** Lines CloudWatch accepted. */
  sent: number;
  /** Lines written to the fallback instead. */
  spilled: number;
  /** Failed PutLogEvents calls (after the SDK's retries). */
  failures: number;
  /** Lines waiting in the buffer now. */
  buffered: number;
}

/** A LogSink that ships lines to CloudWatch Logs; close it to deliver the rest. */
export interface CloudWatchLogSink extends LogSink, AsyncDisposable {
  /** Sends what is buffered within `timeoutMs` (default `closeTimeoutMs`); the rest goes to the fallback. */
  close(timeoutMs?: number): Promise<void>;
  readonly stats: Readonly<CloudWatchLogsStats>;
}

/** Opens the sink; makes sure group, retention and stream exist (a failure is reported, not thrown). */
export async function openCloudWatchLogs(options: CloudWatchLogsOptions): Promise<CloudWatchLogSink> {
  const sink = new Sink(options);
  await sink.ready();
  return sink;
}

const defaultFallback = (() => {
  const stderr = consoleSink("stderr");
  return (line: string) => stderr.write(line, { time: 0, level: "info", component: "", message: line });
})();

class Sink implements CloudWatchLogSink {
  #options: CloudWatchLogsOptions;
  #client: CloudWatchLogsClient;
  #fallback: (line: string) => void;
  #queue: LogEvent[] = [];
  #queuedBytes = 0;
  #lastTimestamp = 0;
  #stats = { sent: 0, spilled: 0, failures: 0, buffered: 0 };
  /** Set-up calls not yet done (succeeded, found existing, or denied). */
  #setupPending: SetupStep[];
  /** IAM actions a set-up call was denied. */
  #denied: string[] = [];
  #pump: Promise<void> | null = null;
  #timer: ReturnType<typeof setInterval>;
  #stop = new AbortController();
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Why lines currently go to the fallback (null while CloudWatch takes them). */
  #failing: string | null = null;
  #bufferFull = false;
  /** Credential patterns only: the sink's own lines hold no configured secret. */
  #redactor = new Redactor();

  constructor(options: CloudWatchLogsOptions) {
    this.#options = options;
    this.#client = new CloudWatchLogsClient(awsClientConfig(options));
    this.#fallback = options.fallback ?? defaultFallback;
    this.#setupPending = setupSteps(options);
    this.#timer = setInterval(() => {
      if (this.#queue.length > 0) this.#kick();
    }, options.flushIntervalMs ?? 2_000);
  }

  get stats(): Readonly<CloudWatchLogsStats> {
    return { ...this.#stats, buffered: this.#queue.length };
  }

  write(line: string, record: { time: number }): void {
    if (this.#closed) return this.#spill([line]);
    const event = toEvent(line, Math.max(record.time, this.#lastTimestamp)); // keep them in order
    const limitEvents = this.#options.maxBufferedEvents ?? 20_000;
    const limitBytes = this.#options.maxBufferedBytes ?? 8 * 1_048_576;
    if (this.#queue.length >= limitEvents || this.#queuedBytes + event.bytes > limitBytes) {
      if (!this.#bufferFull) {
        this.#bufferFull = true;
        this.#notice(
          `CloudWatch Logs buffer is full (${this.#queue.length} lines waiting); ` +
            `writing new lines to stderr until it drains`,
        );
      }
      return this.#spill([line]);
    }
    this.#lastTimestamp = event.timestamp;
    this.#queue.push(event);
    this.#queuedBytes += event.bytes;
    if (this.#queue.length >= MAX_BATCH_EVENTS || this.#queuedBytes >= MAX_BATCH_BYTES) this.#kick();
  }

  /** Delivers (or spills) everything buffered now. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
      this.#kick();
      await this.#pump;
    }
    await this.#pump;
  }

  close(timeoutMs?: number): Promise<void> {
    return this.#closing ??= this.#close(timeoutMs ?? this.#options.closeTimeoutMs ?? 5_000);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Runs setup once at open, briefly; later tries happen before each batch until it succeeds. */
  async ready(): Promise<void> {
    try {
      const ms = this.#options.setupTimeoutMs ?? 5_000;
      await withDeadline(ms, (signal) => this.#setup(AbortSignal.any([signal, this.#stop.signal])));
    } catch (err) {
      this.#enterFailing(err);
    }
  }

  async #close(ms: number): Promise<void> {
    clearInterval(this.#timer);
    this.#closed = true;
    try {
      await withDeadline(ms, () => this.flush());
    } catch {
      this.#notice(`CloudWatch Logs did not take the last lines within ${ms} ms; writing them to stderr`);
    }
    this.#stop.abort();
    await this.#pump;
    this.#spill(this.#queue.splice(0).map((e) => e.message));
    this.#queuedBytes = 0;
    this.#client.destroy();
  }

  #kick(): void {
    this.#pump ??= this.#drain().finally(() => (this.#pump = null));
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
      const batch = this.#queue.splice(0, batchSize(this.#queue));
      for (const e of batch) this.#queuedBytes -= e.bytes;
      if (this.#bufferFull && this.#queue.length === 0) this.#bufferFull = false;
      await this.#deliver(batch);
    }
  }

  /** Sends one batch, retrying with back-off; spills it if CloudWatch will not take it. */
  async #deliver(batch: LogEvent[]): Promise<void> {
    // While failing, one try per batch, under a deadline: lines reach stderr
    // quickly until CloudWatch recovers, whatever the SDK's retries would take.
    const failing = this.#failing !== null;
    const attempts = failing ? 1 : this.#options.batchAttempts ?? 3;
    let delay = this.#options.retryDelayMs ?? 1_000;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts && !this.#stop.signal.aborted; attempt++) {
      if (attempt > 1) {
        await sleep(delay, this.#stop.signal);
        delay = Math.min(delay * 2, 30_000);
      }
      try {
        const out = failing
          ? await withDeadline(
            this.#options.failingAttemptMs ?? 5_000,
            (signal) => this.#put(batch, AbortSignal.any([signal, this.#stop.signal])),
          )
          : await this.#put(batch, this.#stop.signal);
        this.#accepted(batch, out.rejectedLogEventsInfo);
        return;
      } catch (err) {
        lastError = err;
        this.#stats.failures++;
        const name = (err as Error)?.name;
        if (name === "ResourceNotFoundException") {
          // Deleted under us: create again, unless creating is what the role may not do.
          if (this.#denied.length > 0) break;
          this.#setupPending = setupSteps(this.#options);
        } else if (!["throttled", "server", "network", "credentials"].includes(awsFailure(err))) break;
      }
    }
    this.#enterFailing(lastError);
    this.#spill(batch.map((e) => e.message));
  }

  async #put(batch: LogEvent[], abortSignal: AbortSignal) {
    if (this.#setupPending.length > 0) await this.#setup(abortSignal);
    return await this.#client.send(
      new PutLogEventsCommand({
        logGroupName: this.#options.logGroup,
        logStreamName: this.#options.logStream,
        logEvents: batch.map(({ timestamp, message }) => ({ timestamp, message })),
      }),
      { abortSignal },
    );
  }

  #accepted(batch: LogEvent[], rejected: RejectedInfo | undefined): void {
    // CloudWatch accepts a batch but may discard events too old or too new: keep those on stderr.
    const tooOld = Math.max(rejected?.tooOldLogEventEndIndex ?? -1, rejected?.expiredLogEventEndIndex ?? -1);
    const tooNew = rejected?.tooNewLogEventStartIndex ?? batch.length;
    const refused = batch.filter((_, i) => i <= tooOld || i >= tooNew);
    this.#stats.sent += batch.length - refused.length;
    if (refused.length > 0) this.#spill(refused.map((e) => e.message));
    if (this.#failing !== null) {
      this.#failing = null;
      this.#notice(
        `CloudWatch Logs accepts lines again; ${this.#stats.spilled} line(s) so far went to stderr`,
      );
    }
  }

  /**
   * Group, retention, stream, in that order. A step that succeeds, finds the
   * resource existing, or is denied is done for good (a denied one is one
   * WARN); any other failure leaves it for the next batch to try.
   */
  async #setup(abortSignal: AbortSignal): Promise<void> {
    while (this.#setupPending.length > 0) {
      const step = this.#setupPending[0]!;
      try {
        await step.send(this.#client, abortSignal);
      } catch (err) {
        if ((err as Error)?.name !== "ResourceAlreadyExistsException") {
          if (awsFailure(err) !== "access") throw err;
          this.#denied.push(step.permission);
          this.#line(
            "warn",
            `${step.failure}: ${awsErrorReason(err, undefined, step.permission)}; ${step.goingOn}`,
          );
        }
      }
      this.#setupPending.shift();
    }
  }

  #enterFailing(err: unknown): void {
    if (this.#failing !== null) return;
    this.#failing = awsErrorReason(err, undefined, "logs:PutLogEvents");
    if ((err as Error)?.name === "ResourceNotFoundException" && this.#denied.length > 0) {
      this.#failing += `: create them beforehand (${this.#denied.join(", ")} denied)`;
    }
    this.#notice(
      `Cannot send log lines to CloudWatch Logs group "${this.#options.logGroup}" stream ` +
        `"${this.#options.logStream}" (${this.#failing}); writing them to stderr until it recovers`,
    );
  }

  /** A line about the sink itself that goes where the service's lines go (CloudWatch, or the fallback). */
  #line(level: "warn", message: string): void {
    const time = Date.now();
    this.write(this.#format(time, level, message), { time });
  }

  /** A line about the sink itself: always to the fallback, and to CloudWatch when it is up. */
  #notice(message: string): void {
    const time = Date.now();
    const line = this.#format(time, "warn", message);
    this.#fallback(line);
    if (!this.#closed && this.#failing === null && !this.#bufferFull) {
      const event = toEvent(line, Math.max(time, this.#lastTimestamp));
      this.#lastTimestamp = event.timestamp;
      this.#queue.push(event);
      this.#queuedBytes += event.bytes;
    }
  }

  #format(time: number, level: Level, message: string): string {
    const record = { time, level, component: "cloudwatch", message };
    return formatRecord(record, this.#options.format ?? "text", this.#redactor);
  }

  #spill(lines: string[]): void {
    for (const line of lines) this.#fallback(line);
    this.#stats.spilled += lines.length;
  }
}

/** Indices of events CloudWatch took in the call but discarded. */
interface RejectedInfo {
  tooNewLogEventStartIndex?: number | undefined;
  tooOldLogEventEndIndex?: number | undefined;
  expiredLogEventEndIndex?: number | undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
