/**
 * The systemd side: the unit file in the repository (systemd-analyze verify,
 * its key settings), install.sh's systemctl calls (through a recording
 * stand-in for systemctl, since no systemd runs here), and shellcheck.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/compile.ts";
import { assertStepsInOrder, INSTALL_SH, makeRelease, runInstaller, tempDir } from "../_install_helpers.ts";

const UNIT_FILE = join(REPO_ROOT, "packaging", "mq2wsbridge.service");

async function hasCommand(name: string): Promise<boolean> {
  const out = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" }).output();
  return out.success;
}

Deno.test("packaging/mq2wsbridge.service passes systemd-analyze verify without a warning", async () => {
  // verify resolves ExecStart and the targets the unit names inside --root,
  // so the root gets a stand-in executable and a copy of this host's units.
  await using root = await tempDir();
  const r = (path: string) => join(root.path, path);
  await Deno.mkdir(r("opt/mq2wsbridge/bin"), { recursive: true });
  await Deno.writeTextFile(r("opt/mq2wsbridge/bin/mq2wsbridge"), "#!/bin/sh\n", { mode: 0o755 });
  await Deno.mkdir(r("etc/systemd/system"), { recursive: true });
  await Deno.copyFile(UNIT_FILE, r("etc/systemd/system/mq2wsbridge.service"));
  await Deno.mkdir(r("usr/lib/systemd"), { recursive: true });
  const hostUnits = await Deno.realPath("/usr/lib/systemd/system").catch(() => "/lib/systemd/system");
  const copied = await new Deno.Command("cp", { args: ["-r", hostUnits, r("usr/lib/systemd/system")] })
    .output();
  assert.ok(copied.success, `Cannot copy ${hostUnits}`);

  const out = await new Deno.Command("systemd-analyze", {
    args: ["verify", `--root=${root.path}`, "/etc/systemd/system/mq2wsbridge.service"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, text);
  assert.equal(text, "");
});

Deno.test("packaging/mq2wsbridge.service runs -s -l -m, restarts on failure but not on 2, 77 or 78, keeps JIT memory", async () => {
  const unit = await Deno.readTextFile(UNIT_FILE);
  const settings = unit.split("\n").filter((line) => /^[A-Za-z]+=/.test(line));
  for (
    const line of [
      "ExecStart=/opt/mq2wsbridge/bin/mq2wsbridge -s -l -m",
      "User=mq2wsbridge",
      "Restart=on-failure",
      "RestartPreventExitStatus=2 77 78",
      "EnvironmentFile=-/etc/mq2wsbridge/environment",
      "Documentation=https://github.com/@GITHUB_REPOSITORY@#readme",
      "TimeoutStopSec=30s",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
    ]
  ) {
    assert.ok(settings.includes(line), `missing ${line}`);
  }
  assert.ok(!settings.some((line) => line.startsWith("MemoryDenyWriteExecute=")), "V8 needs W+X memory");
});

Deno.test("install.sh reloads systemd, restarts a running service on upgrade and disables it on uninstall", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  await using bin = await tempDir();
  const log = join(bin.path, "calls");
  const systemctl = join(bin.path, "systemctl");
  await Deno.writeTextFile(systemctl, `#!/bin/sh\necho "$*" >> '${log}'\n`, { mode: 0o755 });
  const env = {
    DESTDIR: root.path,
    MQ2WSBRIDGE_BASE_URL: release.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
    MQ2WSBRIDGE_SYSTEMCTL: systemctl,
  };
  const calls = async () => (await Deno.readTextFile(log)).trimEnd().split("\n");

  const install = await runInstaller([], env);
  assert.equal(install.code, 0, install.stderr);
  assert.deepEqual(await calls(), ["daemon-reload"]);
  assertStepsInOrder(install.stdout, [
    /mq2wsbridge -c \/etc\/mq2wsbridge\/mq2wsbridge\.ini -l -m --check-config/,
    /mq2wsbridge -c \/etc\/mq2wsbridge\/mq2wsbridge\.ini -s -M/,
    /systemctl enable --now mq2wsbridge\.service/,
    /bridgetester -s -n 10/,
  ]);

  assert.equal((await runInstaller([], env)).code, 0);
  assert.deepEqual((await calls()).slice(1), ["daemon-reload", "try-restart mq2wsbridge.service"]);

  assert.equal((await runInstaller(["--uninstall"], env)).code, 0);
  assert.deepEqual((await calls()).slice(3), ["disable --now mq2wsbridge.service", "daemon-reload"]);
});

const shellcheckInstalled = await hasCommand("shellcheck");
if (!shellcheckInstalled) {
  // deno-lint-ignore no-console
  console.warn("shellcheck is not installed (apt-get install -y shellcheck): skipping its test");
}

Deno.test({
  name: "install.sh passes shellcheck",
  // CI installs shellcheck: there a missing one is a failure, not a skip.
  ignore: !shellcheckInstalled && !Deno.env.get("CI"),
  async fn() {
    const out = await new Deno.Command("shellcheck", { args: [INSTALL_SH], stdout: "piped", stderr: "piped" })
      .output();
    assert.ok(out.success, new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr));
  },
});
