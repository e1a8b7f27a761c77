/**
 * Puts the commit a binary is built from into the binary, without modifying
 * the repository. `lib/build_info.json` is committed as `{"commit": null}`
 * and imported by `lib/version.ts`; for `deno compile`, `stampBuild` writes a
 * copy naming the commit into a temporary directory, with an import map that
 * maps the repository's file to that copy (an import map may remap a full
 * `file:` URL, relative imports included) and carries deno.json's imports
 * unchanged. `deno compile --import-map` then embeds the copy. Nothing in the
 * tree changes, so an interrupted build (Ctrl-C, a kill) leaves nothing to
 * restore and two builds can run at once.
 */
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** The file `lib/version.ts` reads the commit from, relative to the repository root. */
export const BUILD_INFO = "lib/build_info.json";

/** A temporary import map that stamps `commit` into a build; dispose removes it. */
export interface BuildStamp extends AsyncDisposable {
  /** What the binary will print as its commit. */
  readonly commit: string;
  /** Path of the import map to pass to `deno compile --import-map`. */
  readonly importMap: string;
}

/**
 * `git rev-parse --short=12 HEAD` of the work tree at `root`, with `-dirty`
 * when a tracked file differs from that commit (untracked files do not
 * count, as with `git describe --dirty`). Throws when git cannot name it: a
 * release must say what it was built from.
 */
export async function gitCommit(root: string): Promise<string> {
  const head = (await git(root, ["rev-parse", "--short=12", "HEAD"])).trim();
  const changes = await git(root, ["status", "--porcelain", "--untracked-files=no"]);
  return changes.trim() === "" ? head : `${head}-dirty`;
}

/** Writes the stamped build info and its import map for the repository at `root` (commit: `gitCommit`). */
export async function stampBuild(root: string, commit?: string): Promise<BuildStamp> {
  const named = commit ?? await gitCommit(root);
  const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-build-" });
  try {
    await Deno.writeTextFile(join(dir, "build_info.json"), JSON.stringify({ commit: named }) + "\n");
    const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))) as {
      imports?: Record<string, string>;
      scopes?: Record<string, Record<string, string>>;
    };
    const map = {
      imports: {
        ...absolute(config.imports ?? {}, root),
        [pathToFileURL(join(resolve(root), BUILD_INFO)).href]: "./build_info.json",
      },
      ...(config.scopes ? { scopes: config.scopes } : {}),
    };
    await Deno.writeTextFile(join(dir, "import_map.json"), JSON.stringify(map, null, 2) + "\n");
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  }
  return {
    commit: named,
    importMap: join(dir, "import_map.json"),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/**
 * deno.json's imports as a plain import map: relative targets made absolute
 * (the map lives elsewhere), and the subpath entry that deno.json adds by
 * itself for an `npm:` package (`"@smithy/core/": "npm:/@smithy/core@3.41.0/"`,
 * so `@smithy/core/config` resolves), which an import map file does not.
 */
function absolute(imports: Record<string, string>, root: string): Record<string, string> {
  const base = pathToFileURL(resolve(root) + "/");
  const out: Record<string, string> = {};
  for (const [key, target] of Object.entries(imports)) {
    out[key] = target.startsWith("./") || target.startsWith("../") ? new URL(target, base).href : target;
  }
  for (const [key, target] of Object.entries(imports)) {
    const sub = `${key}/`;
    if (!key.endsWith("/") && target.startsWith("npm:") && !(sub in out)) {
      out[sub] = `npm:/${target.slice("npm:".length)}/`;
    }
  }
  return out;
}

async function git(root: string, args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("git", { args: ["-C", root, ...args], stdout: "piped", stderr: "piped" })
      .output();
  } catch (err) {
    throw new Error(`Cannot name the commit to build: git ${args.join(" ")} in ${root} failed`, {
      cause: err,
    });
  }
  if (!out.success) {
    const reason = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`Cannot name the commit to build: git ${args.join(" ")} in ${root}: ${reason}`);
  }
  return new TextDecoder().decode(out.stdout);
}
