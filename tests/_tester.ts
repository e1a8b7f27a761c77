/**
 * Test fixtures for bridgetester: the real CLI run as a child process (its
 * exit status and output collected), and the stub-mode bridge it tests,
 * spawned as the real mq2wsbridge process and awaited until it is bridging.
 */
import { type BridgeProcess, spawnBridge } from "./_bridge.ts";
import { permissionsOf } from "../scripts/programs.ts";

export const TESTER = new URL("../tester.ts", import.meta.url).pathname;

/** The permissions bridgetester is compiled with: proof that they are enough. */
export const TESTER_PERMISSIONS = permissionsOf("bridgetester");

/** What a finished bridgetester run left behind. */
export interface TesterOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tester.ts args` to completion (killed after `ms`), with extra `env`; stdin is not a terminal. */
export async function runTesterCli(
  args: string[],
  ms = 60_000,
  env: Record<string, string> = {},
): Promise<TesterOutput> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-check", ...TESTER_PERMISSIONS, TESTER, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Starts `mq2wsbridge -c ini [-X]` (`-s` when `ini` is "-s") and waits for its "Bridging" line. */
export async function startBridgeProcess(
  ini: string,
  { stub = true, env }: { stub?: boolean; env?: Record<string, string> } = {},
): Promise<BridgeProcess> {
  const source = ini === "-s" ? ["-s"] : ["-c", ini];
  const bridge = spawnBridge([...source, "-v", ...(stub ? ["-X"] : [])], env);
  try {
    await bridge.waitForLine(/Bridging/, 20_000);
  } catch (err) {
    await bridge[Symbol.asyncDispose]();
    throw new Error(`The bridge did not start:\n${bridge.output}`, { cause: err });
  }
  return bridge;
}
