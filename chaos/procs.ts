/**
 * The processes a chaos scenario runs and breaks: the WebSocket echo
 * endpoint (`tools/echo_server.ts`) and the bridge (`main.ts`), each a real
 * child process; plus the two probes the suite takes of them: the bridge's
 * resident memory (VmRSS) and, broker-side, its connection (to close it).
 */
import { BridgeProcess, spawnBridge } from "../tests/_bridge.ts";
import { rabbitmqctl } from "../tools/rabbitmqctl.ts";

const ECHO = new URL("../tools/echo_server.ts", import.meta.url).pathname;

/** A running echo endpoint process and the port it listens on. */
export interface EchoProcess extends AsyncDisposable {
  proc: BridgeProcess;
  port: number;
  url: string;
}

/** Starts `tools/echo_server.ts --port PORT` (0: any) and waits for its `listening on` line. */
export async function startEcho(port = 0): Promise<EchoProcess> {
  const proc = new BridgeProcess(["--port", String(port)], { program: ECHO });
  try {
    const line = await proc.waitForLine(/^listening on \d+/, 20_000);
    const bound = Number(line.split(" ")[2]);
    return {
      proc,
      port: bound,
      url: `ws://127.0.0.1:${bound}`,
      [Symbol.asyncDispose]: () => proc[Symbol.asyncDispose](),
    };
  } catch (err) {
    await proc[Symbol.asyncDispose]();
    throw new Error(`Cannot start the echo server on port ${port}: ${proc.output}`, { cause: err });
  }
}

/** Kills the echo server with SIGKILL, waits for it to die, starts it again on the same port. */
export async function crashAndRestartEcho(echo: EchoProcess): Promise<EchoProcess> {
  echo.proc.kill("SIGKILL");
  await echo.proc.exit();
  return await startEcho(echo.port);
}

/** Starts the bridge (`-v`, `-X` for stub mode) and waits until it says it is bridging. */
export async function startBridgeProcess(ini: string, stub: boolean): Promise<BridgeProcess> {
  const bridge = spawnBridge(["-c", ini, "-v", ...(stub ? ["-X"] : [])]);
  try {
    await Promise.race([
      bridge.waitForLine(/\[bridge\] Bridging/, 30_000),
      bridge.status.then((s) => Promise.reject(new Error(`exited with status ${s.code}`))),
    ]);
    return bridge;
  } catch (err) {
    await bridge[Symbol.asyncDispose]();
    throw new Error(`Cannot start the bridge: ${bridge.output}`, { cause: err });
  }
}

/** Resident memory of process `pid`, in KiB (VmRSS of /proc/PID/status). */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`Cannot read VmRSS of process ${pid}: no VmRSS line in /proc/${pid}/status`);
  return Number(match[1]);
}

/**
 * The broker's id of the `role` connection of the bridge with process id
 * `pid` (rabbitmqctl list_connections). A bridge with one connection names
 * it `mq2wsbridge@HOST pid PID`; one that consumes and publishes on separate
 * connections (issue 10) adds ` consume` or ` publish`. Either is found.
 */
export async function bridgeConnection(pid: number, role: "consume" | "publish"): Promise<string> {
  // The closing quote keeps "pid 12" from matching "pid 123".
  const base = `mq2wsbridge@${Deno.hostname()} pid ${pid}`;
  const names = [`"${base} ${role}"`, `"${base}"`];
  const list = await rabbitmqctl(["list_connections", "pid", "client_properties"]);
  const lines = list.split("\n");
  for (const name of names) {
    const found = lines.filter((line) => line.includes(name)).map((line) => line.split("\t")[0]!);
    if (found.length > 1) throw new Error(`Cannot tell the broker connection ${name}: ${found.length} match`);
    if (found.length === 1) return found[0]!;
  }
  throw new Error(`Cannot find the broker connection ${names.join(" or ")} of the bridge`);
}

/** Has the broker close connection `id` (rabbitmqctl close_connection), as an operator would. */
export async function closeConnection(id: string): Promise<void> {
  await rabbitmqctl(["close_connection", id, "closed by the chaos suite"]);
}

/**
 * Resolves with the `n`th output line (counting from the process start) that
 * matches `pattern`. `waitForLine` tests each line exactly once, in order,
 * so a pattern that counts its matches finds the nth one.
 */
export function nthLine(proc: BridgeProcess, pattern: RegExp, n: number, ms = 15_000): Promise<string> {
  let left = n;
  const counting = new (class extends RegExp {
    override test(line: string): boolean {
      return super.test(line) && --left === 0;
    }
  })(pattern.source, pattern.flags);
  return proc.waitForLine(counting, ms);
}

/** The monotonic time (performance.now()) of a log line, from its leading ISO timestamp. */
export function lineTime(line: string): number {
  const wall = Date.parse(line.slice(0, 24));
  if (Number.isNaN(wall)) throw new Error(`Cannot read the time of log line "${line}"`);
  return performance.now() - (Date.now() - wall);
}
