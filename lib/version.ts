/**
 * What this build is: the release version (deno.json, the one place it is
 * written), the commit it was compiled from, the target and the Deno version.
 *
 * The commit comes from `build_info.json`, which holds `{"commit": null}` in
 * the repository: `deno task compile` (scripts/build_stamp.ts) compiles with
 * an import map that puts a copy naming the commit in its place, so the
 * repository is never modified. Run from source, the commit is `source`.
 */
import denoJson from "../deno.json" with { type: "json" };
import buildJson from "./build_info.json" with { type: "json" };

/** e.g. "0.1.0" */
export const VERSION: string = denoJson.version;

/** What `commit` is when the program runs from source rather than a compiled binary. */
export const SOURCE_COMMIT = "source";

/** A build's identity, for `--version` and the build-info metric. */
export interface BuildInfo {
  /** deno.json "version", e.g. "0.1.0". */
  version: string;
  /** `git rev-parse --short=12 HEAD`, with "-dirty" if tracked files differed; "source" from source. */
  commit: string;
  /** `Deno.build.target`, e.g. "x86_64-unknown-linux-gnu". */
  target: string;
  /** `Deno.version.deno`, e.g. "2.9.6". */
  deno: string;
}

/** This build's version, commit, target and Deno version. */
export function buildInfo(): BuildInfo {
  const commit: string | null = buildJson.commit;
  return {
    version: VERSION,
    commit: commit ?? SOURCE_COMMIT,
    target: Deno.build.target,
    deno: Deno.version.deno,
  };
}

/** `mq2wsbridge 0.1.0 (commit 0123456789ab, x86_64-unknown-linux-gnu, deno 2.9.6)` for `program`. */
export function versionLine(program: string, info: BuildInfo = buildInfo()): string {
  return `${program} ${info.version} (commit ${info.commit}, ${info.target}, deno ${info.deno})`;
}
