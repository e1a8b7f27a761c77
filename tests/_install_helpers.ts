/**
 * Fixtures for the packaging tests: temporary directories, a local release
 * made by the real release code from stand-in executables, and install.sh run
 * as a real process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { assembleRelease } from "../scripts/release.ts";
import { REPO_ROOT } from "../scripts/compile.ts";
import { ALL_TARGETS, PROGRAMS, TARGETS } from "../scripts/programs.ts";

/** install.sh in this repository. */
export const INSTALL_SH: string = join(REPO_ROOT, "install.sh");

/** A directory removed when disposed. */
export interface TempDir extends AsyncDisposable {
  path: string;
}

/** Creates a temporary directory that `await using` removes. */
export async function tempDir(prefix = "mq2wsbridge-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** What a stand-in executable prints, so a test can tell which build was installed. */
export function standInOutput(program: string, version: string, arch: string): string {
  return `${program} ${version} ${arch}`;
}

/**
 * A release directory (archives for both architectures, SHA256SUMS,
 * install.sh) whose binaries are shell scripts printing `standInOutput()`.
 */
export async function makeRelease(version: string): Promise<TempDir> {
  const dir = await tempDir("mq2wsbridge-release-test-");
  const binDir = join(dir.path, "bin");
  for (const target of ALL_TARGETS) {
    await Deno.mkdir(join(binDir, target), { recursive: true });
    for (const { name } of PROGRAMS) {
      const script = `#!/bin/sh\necho '${standInOutput(name, version, TARGETS[target])}'\n`;
      await Deno.writeTextFile(join(binDir, target, name), script, { mode: 0o755 });
    }
  }
  await assembleRelease({ version, binDir, outDir: join(dir.path, "release") });
  await Deno.remove(binDir, { recursive: true });
  return { path: join(dir.path, "release"), [Symbol.asyncDispose]: dir[Symbol.asyncDispose] };
}

/** Result of one install.sh run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs install.sh with `/bin/sh` and only PATH plus `env` in its environment,
 * so variables of the caller's shell cannot change what it does.
 */
export async function runInstaller(args: string[], env: Record<string, string>): Promise<RunResult> {
  const out = await new Deno.Command("/bin/sh", {
    args: [INSTALL_SH, ...args],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** uid and gid of `user` in `<root>/etc/passwd`. */
export async function accountIds(root: string, user: string): Promise<{ uid: number; gid: number }> {
  const passwd = await Deno.readTextFile(join(root, "etc", "passwd"));
  const fields = passwd.split("\n").map((line) => line.split(":")).find((f) => f[0] === user);
  if (!fields) throw new Error(`Cannot find user "${user}" in ${root}/etc/passwd`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** Paths of the files and links (not directories) under `root`, relative and sorted. */
export async function listFiles(root: string, dir = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(join(root, dir))) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory) found.push(...await listFiles(root, path));
    else found.push(path);
  }
  return found.sort();
}

/** Permission bits of a path (not following a final link). */
export async function modeOf(path: string): Promise<number> {
  return (await Deno.lstat(path)).mode! & 0o7777;
}

/**
 * The next steps name `patterns` in this order, each in its own numbered step:
 * the store is filled before the service starts (it reads only the store), and
 * bridgetester runs once the service does, so its messages come back.
 */
export function assertStepsInOrder(stdout: string, patterns: RegExp[]): void {
  const steps = stdout.slice(stdout.indexOf("Next steps:")).split(/\n(?= {2}\d\. )/);
  const at = patterns.map((pattern) => steps.findIndex((step) => pattern.test(step)));
  assert.ok(
    at.every((i) => i > 0),
    `every step is there: ${patterns.filter((_, i) => at[i]! <= 0)}\n${stdout}`,
  );
  assert.deepEqual(at, [...at].sort((x, y) => x - y), `steps in order ${patterns.join(" < ")}:\n${stdout}`);
  assert.equal(new Set(at).size, at.length, `one step each:\n${stdout}`);
}
