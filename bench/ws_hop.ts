/**
 * `deno task bench:ws`: the WebSocket hop alone, without the broker. A
 * client in this process sends to the echo server (tools/echo_server.ts, its
 * own process) and times each message there and back, through the bridge's
 * relay (handlers/ws/relay.ts) with `ws_no_delay = true` and `false`, and
 * directly (Deno's WebSocket client alone, as a reference: Nagle's algorithm on):
 *
 * - lone: one message at a time, the next sent when the last came back;
 * - paced: 500 msg/s, as the latency runs of `deno task bench`.
 *
 * It prints a table; nothing is written.
 */
import { denoScript } from "../tools/program.ts";
import { COALESCE_MS } from "../handlers/ws/write_pacing.ts";
import { RelayDir, type RelayLink } from "../handlers/ws/relay.ts";
import { print } from "../lib/print.ts";

const SIZES = [100, 16_384];
const DECODER = new TextDecoder();
const ENCODER = new TextEncoder();
type Path = "relay" | "relayNagle" | "direct";
const LABEL: Record<Path, string> = {
  relay: "relay (ws_no_delay = true)",
  relayNagle: "relay (ws_no_delay = false)",
  direct: "direct (Deno's client alone)",
};
const LONE = 200;
const PACED = 3_000;
const RATE = 500;

/** One WebSocket connection to the echo server, timing messages by their leading number. */
class Hop implements AsyncDisposable {
  readonly #ws: WebSocket;
  readonly #relay: RelayDir | null;
  readonly #link: RelayLink | null;
  readonly #sentAt = new Map<number, number>();
  #onBack: ((id: number, ms: number) => void) | null = null;

  private constructor(ws: WebSocket, relay: RelayDir | null, link: RelayLink | null) {
    this.#ws = ws;
    this.#relay = relay;
    this.#link = link;
    const back = (data: string) => {
      const id = Number(data.slice(0, 10));
      this.#onBack?.(id, performance.now() - this.#sentAt.get(id)!);
      this.#sentAt.delete(id);
    };
    // Through the relay the messages are the relay's to frame and read (handlers/ws/data_frames.ts), as
    // in the bridge; directly, Deno's client carries them.
    if (link) link.receive((data) => back(DECODER.decode(data)));
    else ws.onmessage = (event) => back(event.data as string);
  }

  static async open(url: string, path: Path): Promise<Hop> {
    const relay = path === "direct" ? null : await RelayDir.open("/tmp");
    const options = { noDelay: path === "relay", proxy: {}, pingIntervalMs: 0, coalesceMs: COALESCE_MS };
    const link = relay?.link(url, options, { onWritten() {}, onDead() {} }) ?? null;
    const route = link?.route(url);
    // deno-lint-ignore no-explicit-any
    const ws = route ? new WebSocket(route.url, route.options as any) : new WebSocket(url);
    ws.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot open ${url}`));
    });
    return new Hop(ws, relay, link);
  }

  #send(id: number, size: number): void {
    this.#sentAt.set(id, performance.now());
    const message = String(id).padStart(10, "0") + "x".repeat(Math.max(0, size - 10));
    if (this.#link) this.#link.send(ENCODER.encode(message), true);
    else this.#ws.send(message);
  }

  /** Round trips of `LONE` messages sent one at a time. */
  async lone(size: number): Promise<number[]> {
    const times: number[] = [];
    for (let id = 0; id < LONE; id++) {
      const back = new Promise<number>((resolve) => (this.#onBack = (_, ms) => resolve(ms)));
      this.#send(id, size);
      times.push(await back);
    }
    return times;
  }

  /** Round trips of `PACED` messages sent at `RATE` per second. */
  async paced(size: number): Promise<number[]> {
    const times: number[] = [];
    const all = new Promise<void>((resolve) => {
      this.#onBack = (_, ms) => {
        times.push(ms);
        if (times.length === PACED) resolve();
      };
    });
    const start = performance.now();
    for (let i = 0; i < PACED; i++) {
      const wait = start + (i * 1000) / RATE - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      this.#send(LONE + i, size);
    }
    await all;
    return times;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const closed = new Promise((resolve) => (this.#ws.onclose = resolve));
    this.#ws.close();
    await closed;
    await this.#relay?.close();
  }
}

/** The `p` quantile of some times, in ms with two decimals. */
function q(times: number[], p: number): string {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(p * (sorted.length - 1))]!.toFixed(2);
}

async function main(): Promise<void> {
  await using echo = denoScript("tools/echo_server.ts", ["--allow-net"], ["--port", "0"]);
  const port = Number((await echo.waitForLine(/^listening on \d+/)).split(" ").at(-1));
  const url = `ws://127.0.0.1:${port}/hop`;

  print(
    "| path | size | lone p50 ms | lone p99 ms | 500/s p50 ms | 500/s p95 ms | 500/s p99 ms | 500/s max ms |",
  );
  print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const size of SIZES) {
    for (const path of ["relay", "relayNagle", "direct"] as const) {
      await using hop = await Hop.open(url, path);
      const lone = await hop.lone(size);
      const paced = await hop.paced(size);
      print(
        `| ${LABEL[path]} | ${size} B | ` +
          `${q(lone, 0.5)} | ${q(lone, 0.99)} | ${q(paced, 0.5)} | ${q(paced, 0.95)} | ${q(paced, 0.99)} | ${
            q(paced, 1)
          } |`,
      );
    }
  }
}

await main();
