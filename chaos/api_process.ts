/**
 * The API stand-in (tools/api_server.ts) as a child process, and the
 * harness's side of its control endpoints: start and stop its own sending,
 * read what it sent and received, wait (long poll) for counts. It is a real
 * process, so a scenario can freeze it (SIGSTOP), thaw it (SIGCONT) or kill
 * it; a frozen API answers no control call, so callers thaw it first.
 */
import { BridgeProcess } from "../tests/_bridge.ts";
import type { SendPlan } from "../tools/api_sender.ts";
import type { ReceiptSummary } from "../tools/api_counts.ts";

const API = new URL("../tools/api_server.ts", import.meta.url).pathname;

/** What the API believes it sent (`sentAt`: epoch ms per index 0..count, with detail). */
export interface ApiSent extends Required<SendPlan> {
  next: number;
  sent: number;
  done: boolean;
  sentAt?: (number | null)[];
}

/** What the API received of one prefix (`copies`, `firstAt` per index 0..count, with detail). */
export interface ApiReceived extends ReceiptSummary {
  prefix: string;
  copies?: number[];
  firstAt?: (number | null)[];
}

/** The API's counters. */
export interface ApiStatus {
  connections: number;
  open: number;
  bufferedAmount: number;
  echoed: number;
  received: { total: number; foreign: number; prefixes: Record<string, number> };
  sender: Omit<ApiSent, "sentAt"> | null;
}

/** A running API stand-in process. */
export class ApiProcess implements AsyncDisposable {
  readonly proc: BridgeProcess;
  readonly port: number;
  readonly echo: boolean;
  #frozen = false;

  private constructor(proc: BridgeProcess, port: number, echo: boolean) {
    this.proc = proc;
    this.port = port;
    this.echo = echo;
  }

  /** Starts `tools/api_server.ts` (on `port`, 0: any) and waits for its `listening on` line. */
  static async start(options: { port?: number; echo: boolean }): Promise<ApiProcess> {
    const port = options.port ?? 0;
    const proc = new BridgeProcess(["--port", String(port), ...(options.echo ? ["--echo"] : [])], {
      program: API,
    });
    try {
      const line = await proc.waitForLine(/^listening on \d+/, 20_000);
      return new ApiProcess(proc, Number(line.split(" ")[2]), options.echo);
    } catch (err) {
      await proc[Symbol.asyncDispose]();
      throw new Error(`Cannot start the API stand-in on port ${port}: ${proc.output}`, { cause: err });
    }
  }

  /** The WebSocket URL the bridge is given (api_host). */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** True between freeze() and thaw(). */
  get frozen(): boolean {
    return this.#frozen;
  }

  /** SIGSTOP: the process stops; its kernel still accepts bytes until its buffers are full. */
  freeze(): void {
    this.proc.kill("SIGSTOP");
    this.#frozen = true;
  }

  /** SIGCONT. */
  thaw(): void {
    this.proc.kill("SIGCONT");
    this.#frozen = false;
  }

  status(): Promise<ApiStatus> {
    return this.#call("GET", "status");
  }

  /** Starts sending numbered messages of its own. */
  send(plan: SendPlan): Promise<ApiSent> {
    return this.#call("POST", "send", plan);
  }

  /** Stops sending; resolves with what was sent. */
  stop(): Promise<ApiSent | null> {
    return this.#call("POST", "stop");
  }

  sent(detail = false): Promise<ApiSent | null> {
    return this.#call("GET", `sent${detail ? "?detail=1" : ""}`);
  }

  received(prefix: string, count: number, detail = false): Promise<ApiReceived> {
    const query = `prefix=${encodeURIComponent(prefix)}&count=${count}${detail ? "&detail=1" : ""}`;
    return this.#call("GET", `received?${query}`);
  }

  /** Resolves with the status once `until` reaches `n`; rejects after `ms`, saying what was awaited. */
  async wait(until: "sent" | "received" | "highest" | "connections", n: number, ms: number, prefix?: string) {
    const answer = await this.#call<{ ok: boolean } & ApiStatus>(
      "POST",
      "wait",
      { until, n, prefix, timeoutMs: ms },
      ms + 10_000,
    );
    if (!answer.ok) {
      const seen = until === "received" || until === "highest"
        ? answer.received.prefixes[prefix ?? ""] ?? 0
        : until === "sent"
        ? answer.sender?.next ?? 0
        : answer.connections;
      throw new Error(`Cannot see the API's "${until}" reach ${n} within ${ms} ms: ${seen}`);
    }
    return answer as ApiStatus;
  }

  /** SIGKILL and wait for the exit (a frozen process dies too). */
  async kill(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exit();
    this.#frozen = false;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#frozen) this.thaw();
    await this.proc[Symbol.asyncDispose]();
  }

  async #call<T>(method: string, path: string, body?: unknown, ms = 30_000): Promise<T> {
    if (this.#frozen) throw new Error(`Cannot ask the API stand-in for ${path}: it is frozen (SIGSTOP)`);
    const res = await fetch(`http://127.0.0.1:${this.port}/control/${path}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(ms),
    });
    const text = await res.text();
    if (!res.ok) {
      throw new Error(`Cannot ${method} /control/${path} on the API stand-in: ${res.status} ${text}`);
    }
    return JSON.parse(text) as T;
  }
}
