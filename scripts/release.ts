/**
 * Builds a release into one directory, ready to upload as release assets:
 *
 *   mq2wsbridge-linux-x86_64.tar.gz    both binaries, the systemd unit, the
 *   mq2wsbridge-linux-aarch64.tar.gz   example INI, LICENSE and VERSION
 *   mq2wsbridge.cdx.json               CycloneDX SBOM of the embedded npm packages
 *   SHA256SUMS                         sha256sum format, covers every file here
 *   install.sh                         with the GitHub repository filled in
 *
 * The release workflow attests SHA256SUMS (build provenance), which so
 * covers every other file.
 *
 *   deno task release [--tag v0.1.0] [--repo owner/name] [--binaries DIR] [--out DIR]
 *
 * Without --binaries it first compiles (scripts/compile.ts) into dist/bin.
 * Archive names carry no version, so `releases/latest/download/<name>` works
 * for install.sh; the version is in the archive's VERSION file.
 */
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { VERSION } from "../lib/version.ts";
import { ALL_TARGETS, archiveBase, PROGRAMS, type Target } from "./programs.ts";
import { compileAll, REPO_ROOT } from "./compile.ts";
import { writeSbom } from "./sbom.ts";

/** The SBOM's file name in a release. */
export const SBOM_FILE = "mq2wsbridge.cdx.json";
/** Where a release fills in its GitHub repository (install.sh's default source, the unit's Documentation=). */
const REPO_MARKER = "@GITHUB_REPOSITORY@";

/** What goes into a release. */
export interface ReleaseOptions {
  version: string;
  /** Holds `<target>/<program>` for every target and program. */
  binDir: string;
  /** Where the release files are written (created if missing). */
  outDir: string;
  /** GitHub `owner/name` written into install.sh as the default download source. */
  repo?: string | undefined;
  targets?: readonly Target[];
}

/** Files copied into every archive next to `bin/`, from the repository root (the unit is stamped). */
const EXTRAS = [
  ["mq2wsbridge.example.ini", "mq2wsbridge.example.ini"],
  ["LICENSE", "LICENSE"],
] as const;

/** Writes the archives, install.sh and SHA256SUMS; returns the file names written, sorted. */
export async function assembleRelease(options: ReleaseOptions): Promise<string[]> {
  await Deno.mkdir(options.outDir, { recursive: true });
  const staging = await Deno.makeTempDir({ prefix: "mq2wsbridge-release-" });
  try {
    const files: string[] = [];
    for (const target of options.targets ?? ALL_TARGETS) {
      files.push(await buildArchive(target, options, staging));
    }
    await Deno.writeTextFile(join(options.outDir, "install.sh"), await stampedInstaller(options.repo));
    await Deno.chmod(join(options.outDir, "install.sh"), 0o755);
    files.push("install.sh");
    await writeSbom(REPO_ROOT, join(options.outDir, SBOM_FILE), options.version);
    files.push(SBOM_FILE);
    files.sort();
    const sums = await Promise.all(
      files.map(async (f) => `${await sha256(join(options.outDir, f))}  ${f}\n`),
    );
    await Deno.writeTextFile(join(options.outDir, "SHA256SUMS"), sums.join(""));
    return [...files, "SHA256SUMS"].sort();
  } finally {
    await Deno.remove(staging, { recursive: true });
  }
}

async function buildArchive(target: Target, options: ReleaseOptions, staging: string): Promise<string> {
  const base = archiveBase(target);
  const dir = join(staging, base);
  await Deno.mkdir(join(dir, "bin"), { recursive: true });
  for (const program of PROGRAMS) {
    const dest = join(dir, "bin", program.name);
    await Deno.copyFile(join(options.binDir, target, program.name), dest);
    await Deno.chmod(dest, 0o755);
  }
  for (const [from, to] of EXTRAS) {
    await Deno.copyFile(join(REPO_ROOT, from), join(dir, to));
    await Deno.chmod(join(dir, to), 0o644);
  }
  await Deno.writeTextFile(join(dir, "mq2wsbridge.service"), await stampedUnit(options.repo), {
    mode: 0o644,
  });
  await Deno.chmod(join(dir, "mq2wsbridge.service"), 0o644);
  await Deno.writeTextFile(join(dir, "VERSION"), `${options.version}\n`, { mode: 0o644 });
  const name = `${base}.tar.gz`;
  // GNU tar: owner root, sorted entries, no gzip timestamp, so a rebuild of the
  // same binaries gives the same archive (with SOURCE_DATE_EPOCH fixed).
  const mtime = Deno.env.get("SOURCE_DATE_EPOCH") ?? String(Math.floor(Date.now() / 1000));
  const tar = await new Deno.Command("tar", {
    args: [
      "--create",
      "--file",
      join(options.outDir, name),
      "--use-compress-program=gzip -9n",
      "--sort=name",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      `--mtime=@${mtime}`,
      "--directory",
      staging,
      base,
    ],
    stderr: "piped",
  }).output();
  if (!tar.success) throw new Error(`Cannot create ${name}: ${new TextDecoder().decode(tar.stderr)}`);
  return name;
}

/** install.sh with `repo` as its default download source (unchanged when no repo is given). */
export async function stampedInstaller(repo: string | undefined): Promise<string> {
  const text = await Deno.readTextFile(join(REPO_ROOT, "install.sh"));
  return stamp(text, "install.sh", `DEFAULT_REPO="${REPO_MARKER}"`, repo);
}

/** The systemd unit with its Documentation= pointing at `repo` (unchanged when no repo is given). */
export async function stampedUnit(repo: string | undefined): Promise<string> {
  const text = await Deno.readTextFile(join(REPO_ROOT, "packaging", "mq2wsbridge.service"));
  return stamp(text, "mq2wsbridge.service", `Documentation=https://github.com/${REPO_MARKER}`, repo);
}

function stamp(text: string, file: string, line: string, repo: string | undefined): string {
  if (!repo) return text;
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new Error(`Cannot use repository "${repo}": expected owner/name`);
  }
  if (!text.includes(line)) throw new Error(`Cannot stamp ${file}: it lacks ${line}`);
  return text.replace(line, line.replace(REPO_MARKER, repo));
}

/** Hex SHA-256 of a file, read as a stream (archives are large). */
export async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      tag: { type: "string" },
      repo: { type: "string" },
      binaries: { type: "string" },
      out: { type: "string" },
    },
  });
  if (values.tag !== undefined && values.tag !== `v${VERSION}`) {
    throw new Error(
      `Cannot release tag "${values.tag}": deno.json says version ${VERSION} (tag v${VERSION})`,
    );
  }
  let binDir = values.binaries;
  if (binDir === undefined) {
    binDir = join(REPO_ROOT, "dist", "bin");
    await compileAll(ALL_TARGETS, binDir);
  }
  const outDir = values.out ?? join(REPO_ROOT, "dist", "release");
  const files = await assembleRelease({
    version: VERSION,
    binDir,
    outDir,
    repo: values.repo ?? Deno.env.get("GITHUB_REPOSITORY"),
  });
  // deno-lint-ignore no-console
  console.log(`release ${VERSION} in ${outDir}: ${files.join(", ")}`);
}
