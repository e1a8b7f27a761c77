/** scripts/release.ts: archive contents, checksums and the stamped installer. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/compile.ts";
import { SBOM_FILE, stampedInstaller, stampedUnit } from "../../scripts/release.ts";
import type { CycloneDxBom } from "../../scripts/sbom.ts";
import { makeRelease } from "../_install_helpers.ts";

async function run(command: string, args: string[], cwd = "."): Promise<string> {
  const out = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${command} ${args.join(" ")}: ${text}`);
  return text;
}

Deno.test("assembleRelease() writes per-architecture archives with both binaries, unit, example INI, LICENSE and VERSION", async () => {
  await using release = await makeRelease("1.2.3");
  const files = [...Deno.readDirSync(release.path)].map((e) => e.name).sort();
  assert.deepEqual(files, [
    "SHA256SUMS",
    "install.sh",
    "mq2wsbridge-linux-aarch64.tar.gz",
    "mq2wsbridge-linux-x86_64.tar.gz",
    SBOM_FILE,
  ]);
  for (const arch of ["x86_64", "aarch64"]) {
    const base = `mq2wsbridge-linux-${arch}`;
    const listing = await run("tar", ["-tvzf", join(release.path, `${base}.tar.gz`)]);
    const entries = listing.trim().split("\n").map((line) => {
      const [mode, owner, , , , path] = line.split(/\s+/);
      return `${mode} ${owner} ${path}`;
    });
    assert.deepEqual(entries.sort(), [
      `-rw-r--r-- 0/0 ${base}/LICENSE`,
      `-rw-r--r-- 0/0 ${base}/VERSION`,
      `-rw-r--r-- 0/0 ${base}/mq2wsbridge.example.ini`,
      `-rw-r--r-- 0/0 ${base}/mq2wsbridge.service`,
      `-rwxr-xr-x 0/0 ${base}/bin/bridgetester`,
      `-rwxr-xr-x 0/0 ${base}/bin/mq2wsbridge`,
      `drwxr-xr-x 0/0 ${base}/`,
      `drwxr-xr-x 0/0 ${base}/bin/`,
    ]);
    const version = await run("tar", ["-xzOf", join(release.path, `${base}.tar.gz`), `${base}/VERSION`]);
    assert.equal(version, "1.2.3\n");
  }
});

Deno.test("assembleRelease() writes a SHA256SUMS that sha256sum -c accepts for every other file", async () => {
  await using release = await makeRelease("1.2.3");
  const checked = await run("sha256sum", ["--check", "--strict", "SHA256SUMS"], release.path);
  assert.deepEqual(checked.trim().split("\n").sort(), [
    "install.sh: OK",
    "mq2wsbridge-linux-aarch64.tar.gz: OK",
    "mq2wsbridge-linux-x86_64.tar.gz: OK",
    `${SBOM_FILE}: OK`,
  ]);
  // The SBOM in the release describes this release.
  const bom = JSON.parse(await Deno.readTextFile(join(release.path, SBOM_FILE))) as CycloneDxBom;
  assert.equal(bom.metadata.component.version, "1.2.3");
  assert.ok(bom.components.some((c) => c.name === "amqplib"));
});

Deno.test("stampedInstaller() makes the repository the default source and rejects a malformed name", async () => {
  const stamped = await stampedInstaller("acme/mq2wsbridge");
  assert.match(stamped, /^DEFAULT_REPO="acme\/mq2wsbridge"$/m);
  assert.equal(await stampedInstaller(undefined), await Deno.readTextFile(join(REPO_ROOT, "install.sh")));
  await assert.rejects(stampedInstaller("acme/x; rm -rf /"), /expected owner\/name/);
});

Deno.test("stampedUnit() points the unit's Documentation= at the repository", async () => {
  const unit = await stampedUnit("acme/mq2wsbridge");
  assert.match(unit, /^Documentation=https:\/\/github\.com\/acme\/mq2wsbridge#readme$/m);
  assert.equal(
    await stampedUnit(undefined),
    await Deno.readTextFile(join(REPO_ROOT, "packaging/mq2wsbridge.service")),
  );
  await assert.rejects(stampedUnit("acme/x y"), /expected owner\/name/);
});

Deno.test("release.yml attests build provenance over SHA256SUMS and publishes the SBOM", async () => {
  const workflow = await Deno.readTextFile(join(REPO_ROOT, ".github/workflows/release.yml"));
  const publish = workflow.slice(workflow.indexOf("\n  publish:"));
  for (const line of ["id-token: write", "attestations: write", "contents: write"]) {
    assert.ok(publish.includes(line), `publish job has ${line}`);
  }
  assert.match(publish, /uses: actions\/attest-build-provenance@v\d+/);
  assert.match(publish, /subject-checksums: release\/SHA256SUMS/);
  assert.match(publish, /uses: actions\/attest-sbom@v\d+/);
  assert.match(publish, new RegExp(`sbom-path: release/${SBOM_FILE.replace(".", "\\.")}`));
  // Attest before publishing: the assets are never public without their provenance.
  assert.ok(publish.indexOf("attest-build-provenance") < publish.indexOf("gh release create"));
});

Deno.test("release.ts refuses a tag that is not v + the deno.json version", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/release.ts", "--tag", "v999.0.0", "--binaries", "/nonexistent"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.success, false);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /Cannot release tag "v999\.0\.0": deno\.json says version/,
  );
});
