/**
 * Compiles mq2wsbridge and bridgetester with `deno compile` (see
 * `programs.ts` for permissions and targets).
 *
 *   deno task compile                       # both programs, both targets, into dist/bin/<target>/
 *   deno task compile --target aarch64-unknown-linux-gnu --out /tmp/bin
 *
 * `DENORT_BIN` in the environment is passed on: `deno compile` then embeds the
 * program into that executable instead of downloading the runtime.
 *
 * Every build names its commit (`--version`): see `build_stamp.ts`.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ALL_TARGETS, compileArgs, type Program, PROGRAMS, type Target, TARGETS } from "./programs.ts";
import { graphNpmPackages, missingPackages } from "./embedded.ts";
import { stampBuild } from "./build_stamp.ts";

/** The repository root, where deno.json is. */
export const REPO_ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** Options for one compilation. */
export interface CompileOptions {
  /** Base executable to embed into (`DENORT_BIN`); default: what `deno compile` downloads. */
  denortBin?: string | undefined;
  /** The build stamp's import map (`stampBuild`); without it the binary's commit is "source". */
  importMap?: string | undefined;
}

/**
 * Compiles `program` for `target` into the file `output` and returns what
 * `deno compile` printed (its "Embedded Files" listing). Type-checks, as
 * `deno compile` does by default. Throws with Deno's message when it fails.
 */
export async function compileProgram(
  program: Program,
  target: Target,
  output: string,
  options: CompileOptions = {},
): Promise<string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  if (options.denortBin) env.DENORT_BIN = options.denortBin;
  const out = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(program, target, output, options.importMap),
    cwd: REPO_ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(`Cannot compile ${program.entry} for ${target}:\n${text}`);
  }
  return text;
}

/** Compiles `program` and fails unless every npm package of its module graph was embedded. */
export async function compileChecked(
  program: Program,
  target: Target,
  output: string,
  options: CompileOptions = {},
): Promise<void> {
  const listing = await compileProgram(program, target, output, options);
  const graph = await graphNpmPackages(program.entry, REPO_ROOT);
  const missing = missingPackages(graph, listing);
  if (missing.length > 0) {
    throw new Error(`Cannot confirm ${program.name} (${target}) embeds npm packages: ${missing.join(", ")}`);
  }
}

/** Compiles every program for each target into `<outDir>/<target>/<name>`, stamped with the commit. */
export async function compileAll(targets: readonly Target[], outDir: string): Promise<void> {
  const denortBin = Deno.env.get("DENORT_BIN");
  await using stamp = await stampBuild(REPO_ROOT);
  // deno-lint-ignore no-console
  console.log(`building commit ${stamp.commit}`);
  for (const target of targets) {
    await Deno.mkdir(join(outDir, target), { recursive: true });
    for (const program of PROGRAMS) {
      const output = join(outDir, target, program.name);
      await compileChecked(program, target, output, { denortBin, importMap: stamp.importMap });
      // deno-lint-ignore no-console
      console.log(`compiled ${output}`);
    }
  }
}

/** Parses `--target` (repeatable) into known targets; all of them when none is given. */
export function parseTargets(values: readonly string[]): Target[] {
  for (const value of values) {
    if (!(value in TARGETS)) {
      throw new Error(`Unknown --target "${value}": expected one of ${ALL_TARGETS.join(", ")}`);
    }
  }
  return values.length > 0 ? values as Target[] : [...ALL_TARGETS];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { target: { type: "string", multiple: true }, out: { type: "string" } },
  });
  await compileAll(parseTargets(values.target ?? []), values.out ?? join(REPO_ROOT, "dist", "bin"));
}
