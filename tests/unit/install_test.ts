/**
 * install.sh run for real (as root, into a temporary DESTDIR) from a local
 * release built by scripts/release.ts with stand-in executables.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/compile.ts";
import {
  accountIds,
  assertStepsInOrder,
  listFiles,
  makeRelease,
  modeOf,
  runInstaller,
  standInOutput,
  tempDir,
} from "../_install_helpers.ts";

const EXAMPLE_INI = await Deno.readTextFile(join(REPO_ROOT, "mq2wsbridge.example.ini"));
const UNIT = await Deno.readTextFile(join(REPO_ROOT, "packaging", "mq2wsbridge.service"));

Deno.test("install.sh installs binaries, links, the config at 0600 and the unit under DESTDIR", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  const run = await runInstaller([], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_BASE_URL: release.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
  });
  assert.equal(run.code, 0, run.stderr);

  const r = (path: string) => join(root.path, path);
  for (const program of ["mq2wsbridge", "bridgetester"]) {
    const binary = r(`opt/mq2wsbridge/bin/${program}`);
    assert.equal(await modeOf(binary), 0o755);
    assert.match(await Deno.readTextFile(binary), new RegExp(standInOutput(program, "0.1.0", "x86_64")));
    assert.equal(await Deno.readLink(r(`usr/local/bin/${program}`)), `/opt/mq2wsbridge/bin/${program}`);
  }
  assert.equal(await Deno.readTextFile(r("opt/mq2wsbridge/VERSION")), "0.1.0\n");
  assert.equal(await Deno.readTextFile(r("opt/mq2wsbridge/share/mq2wsbridge.example.ini")), EXAMPLE_INI);

  const { uid, gid } = await accountIds(root.path, "mq2wsbridge");
  const config = r("etc/mq2wsbridge/mq2wsbridge.ini");
  assert.equal(await Deno.readTextFile(config), EXAMPLE_INI);
  assert.equal(await modeOf(config), 0o600);
  assert.deepEqual([(await Deno.stat(config)).uid, (await Deno.stat(config)).gid], [uid, gid]);
  const configDir = await Deno.stat(r("etc/mq2wsbridge"));
  assert.deepEqual([configDir.mode! & 0o7777, configDir.uid, configDir.gid], [0o750, 0, gid]);

  const unit = r("etc/systemd/system/mq2wsbridge.service");
  assert.equal(await Deno.readTextFile(unit), UNIT);
  assert.equal(await modeOf(unit), 0o644);
  assert.match(run.stdout, /Installed mq2wsbridge 0\.1\.0 in \/opt\/mq2wsbridge/);
  assert.match(run.stdout, /DESTDIR is set: systemd was left alone/);
  // No systemd to drive: the steps still put the store before the start, and the check after it.
  assertStepsInOrder(run.stdout, [
    /mq2wsbridge -c \/etc\/mq2wsbridge\/mq2wsbridge\.ini -s -M/,
    /-s -l -m' as user mq2wsbridge under your own supervisor/,
    /bridgetester -s -n 10/,
  ]);
  // The INI holds secrets: nothing of it is ever printed.
  assert.doesNotMatch(run.stdout + run.stderr, /mq_password|client_secret/);
});

Deno.test("install.sh --prefix moves the binaries, the links' targets and the unit's ExecStart", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  const run = await runInstaller(["--prefix", "/srv/bridge", "--bindir", "/usr/bin"], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_BASE_URL: release.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(await Deno.readLink(join(root.path, "usr/bin/mq2wsbridge")), "/srv/bridge/bin/mq2wsbridge");
  const unit = await Deno.readTextFile(join(root.path, "etc/systemd/system/mq2wsbridge.service"));
  assert.match(unit, /^ExecStart=\/srv\/bridge\/bin\/mq2wsbridge -s -l -m$/m);
  assert.equal(unit.match(/^ExecStart=/gm)?.length, 1);
});

Deno.test("install.sh installs the aarch64 archive when the machine reports arm64", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  const run = await runInstaller([], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_BASE_URL: `file://${release.path}`,
    MQ2WSBRIDGE_ARCH: "arm64",
  });
  assert.equal(run.code, 0, run.stderr);
  const binary = await Deno.readTextFile(join(root.path, "opt/mq2wsbridge/bin/mq2wsbridge"));
  assert.match(binary, new RegExp(standInOutput("mq2wsbridge", "0.1.0", "aarch64")));
});

Deno.test("install.sh upgrades the binaries and leaves an edited mq2wsbridge.ini untouched", async () => {
  await using first = await makeRelease("0.1.0");
  await using second = await makeRelease("0.2.0");
  await using root = await tempDir();
  const env = { DESTDIR: root.path, MQ2WSBRIDGE_ARCH: "x86_64" };
  assert.equal((await runInstaller(["--base-url", first.path], env)).code, 0);
  const config = join(root.path, "etc/mq2wsbridge/mq2wsbridge.ini");
  const edited = "[aws_mq]\nmq_password = operator-edited\n";
  await Deno.writeTextFile(config, edited);
  await Deno.chmod(config, 0o640);
  const before = await Deno.stat(config);

  const run = await runInstaller(["--base-url", `file://${second.path}`, "--version", "0.2.0"], env);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Upgraded mq2wsbridge 0\.1\.0 to 0\.2\.0/);
  assert.match(run.stdout, /kept the existing \/etc\/mq2wsbridge\/mq2wsbridge\.ini/);
  const after = await Deno.stat(config);
  assert.equal(await Deno.readTextFile(config), edited);
  assert.deepEqual([after.mode, after.uid, after.gid, after.mtime], [
    before.mode,
    before.uid,
    before.gid,
    before.mtime,
  ]);
  const binary = await Deno.readTextFile(join(root.path, "opt/mq2wsbridge/bin/bridgetester"));
  assert.match(binary, new RegExp(standInOutput("bridgetester", "0.2.0", "x86_64")));
  assert.equal(await Deno.readTextFile(join(root.path, "opt/mq2wsbridge/VERSION")), "0.2.0\n");
});

Deno.test("install.sh refuses an archive whose checksum does not match", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  const archive = join(release.path, "mq2wsbridge-linux-x86_64.tar.gz");
  const bytes = await Deno.readFile(archive);
  bytes[bytes.length >> 1]! ^= 0xff;
  await Deno.writeFile(archive, bytes);

  const run = await runInstaller([], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_BASE_URL: release.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
  });
  assert.notEqual(run.code, 0);
  assert.match(
    run.stderr,
    /checksum mismatch for mq2wsbridge-linux-x86_64\.tar\.gz: expected [0-9a-f]{64}, got/,
  );
  assert.deepEqual(await listFiles(root.path), []);
});

Deno.test("install.sh refuses an unknown architecture and names the supported ones", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  const run = await runInstaller([], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_BASE_URL: release.path,
    MQ2WSBRIDGE_ARCH: "riscv64",
  });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /unsupported architecture 'riscv64': releases exist for x86_64 and aarch64/);
  assert.deepEqual(await listFiles(root.path), []);
});

Deno.test("install.sh refuses an archive that holds another version than --version asks for", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  const run = await runInstaller(["--version", "v0.3.0", "--base-url", release.path], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
  });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /asked for version 0\.3\.0 but the archive holds 0\.1\.0/);
  assert.deepEqual(await listFiles(root.path), []);
});

Deno.test("install.sh --uninstall removes what it installed and keeps the config and the user", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  const env = { DESTDIR: root.path, MQ2WSBRIDGE_BASE_URL: release.path, MQ2WSBRIDGE_ARCH: "x86_64" };
  assert.equal((await runInstaller([], env)).code, 0);

  const run = await runInstaller(["--uninstall"], { DESTDIR: root.path });
  assert.equal(run.code, 0, run.stderr);
  const accounts = /^etc\/(passwd|group|shadow|gshadow)-?$/;
  assert.deepEqual((await listFiles(root.path)).filter((f) => !accounts.test(f)), [
    "etc/mq2wsbridge/mq2wsbridge.ini",
  ]);
  await assert.rejects(Deno.stat(join(root.path, "opt/mq2wsbridge")), Deno.errors.NotFound);
  assert.equal(await Deno.readTextFile(join(root.path, "etc/mq2wsbridge/mq2wsbridge.ini")), EXAMPLE_INI);
  await accountIds(root.path, "mq2wsbridge");
  assert.match(run.stdout, /Kept \/etc\/mq2wsbridge and the user mq2wsbridge/);
});
