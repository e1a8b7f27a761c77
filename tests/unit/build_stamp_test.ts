/**
 * The build stamp (scripts/build_stamp.ts): the commit read from a real git
 * work tree, and the import map that puts it in place of lib/build_info.json
 * for a real `deno` run, without touching the repository. That `deno
 * compile` embeds it is checked in compile_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BUILD_INFO, gitCommit, stampBuild } from "../../scripts/build_stamp.ts";
import { REPO_ROOT } from "../../scripts/compile.ts";
import { tempDir } from "../_install_helpers.ts";

async function run(command: string, args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`${command} ${args.join(" ")}: ${text.decode(out.stderr)}`);
  return text.decode(out.stdout);
}

const git = (cwd: string, ...args: string[]) =>
  run("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", ...args], cwd);

Deno.test("gitCommit() names HEAD in 12 hex digits, -dirty when a tracked file changed, not for untracked ones", async () => {
  await using repo = await tempDir();
  await git(repo.path, "init", "--quiet");
  await Deno.writeTextFile(join(repo.path, "a.txt"), "one\n");
  await git(repo.path, "add", "a.txt");
  await git(repo.path, "commit", "--quiet", "-m", "first");
  const head = (await git(repo.path, "rev-parse", "HEAD")).trim();

  const clean = await gitCommit(repo.path);
  assert.match(clean, /^[0-9a-f]{12}$/);
  assert.equal(clean, head.slice(0, 12));

  await Deno.writeTextFile(join(repo.path, "untracked.txt"), "scratch\n");
  assert.equal(await gitCommit(repo.path), clean, "an untracked file does not make the build dirty");

  await Deno.writeTextFile(join(repo.path, "a.txt"), "two\n");
  assert.equal(await gitCommit(repo.path), `${clean}-dirty`);
  await git(repo.path, "add", "a.txt");
  assert.equal(await gitCommit(repo.path), `${clean}-dirty`, "staged but not committed is dirty too");
});

Deno.test("gitCommit() outside a git work tree fails, naming the directory", async () => {
  await using dir = await tempDir();
  await assert.rejects(gitCommit(dir.path), (err: Error) => {
    assert.match(err.message, /^Cannot name the commit to build: git rev-parse .* in /);
    assert.ok(err.message.includes(dir.path), err.message);
    return true;
  });
});

Deno.test("stampBuild() maps lib/build_info.json to a stamped copy for deno, leaving the repository as it was", async () => {
  const before = await Deno.readTextFile(join(REPO_ROOT, BUILD_INFO));
  assert.deepEqual(JSON.parse(before), { commit: null }, "the committed file says: not a build");
  let mapDir: string;
  {
    await using stamp = await stampBuild(REPO_ROOT, "0123456789ab-dirty");
    assert.equal(stamp.commit, "0123456789ab-dirty");
    mapDir = join(stamp.importMap, "..");
    const code = 'import { versionLine } from "./lib/version.ts"; console.log(versionLine("mq2wsbridge"));';
    const printed = await run(Deno.execPath(), ["eval", "--import-map", stamp.importMap, code], REPO_ROOT);
    assert.match(printed, /^mq2wsbridge \d+\.\d+\.\d+\S* \(commit 0123456789ab-dirty, /);
    // deno.json adds a subpath entry for each npm: import by itself; the map must too.
    const map = JSON.parse(await Deno.readTextFile(stamp.importMap));
    assert.equal(map.imports["@smithy/core/"], map.imports["@smithy/core"].replace(/^npm:/, "npm:/") + "/");
    assert.equal(await Deno.readTextFile(join(REPO_ROOT, BUILD_INFO)), before, "the repository is untouched");
  }
  await assert.rejects(Deno.stat(mapDir), Deno.errors.NotFound, "dispose removes the stamp");
  const unstamped = await run(
    Deno.execPath(),
    ["eval", 'import { buildInfo } from "./lib/version.ts"; console.log(buildInfo().commit);'],
    REPO_ROOT,
  );
  assert.equal(unstamped.trim(), "source");
});
