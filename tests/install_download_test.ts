/**
 * install.sh fetching a release over HTTP from a local server (real curl or
 * wget), and its errors when a download fails or no download tool exists.
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { listFiles, makeRelease, runInstaller, standInOutput, tempDir } from "./_install_helpers.ts";

/** Serves the files of `dir` under /release/; everything else is 404. */
function serveRelease(dir: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (!path.startsWith("/release/")) return new Response("not found", { status: 404 });
    try {
      return new Response(await Deno.readFile(join(dir, basename(path))));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

Deno.test("install.sh downloads, verifies and installs a release over HTTP", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  await using server = serveRelease(release.path);
  const run = await runInstaller(["--base-url", `http://127.0.0.1:${server.addr.port}/release`], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
  });
  assert.equal(run.code, 0, run.stderr);
  const binary = await Deno.readTextFile(join(root.path, "opt/mq2wsbridge/bin/mq2wsbridge"));
  assert.match(binary, new RegExp(standInOutput("mq2wsbridge", "0.1.0", "x86_64")));
});

Deno.test("install.sh names the URL that failed to download", async () => {
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  await using server = serveRelease(release.path);
  const base = `http://127.0.0.1:${server.addr.port}/no-such-release`;
  const run = await runInstaller(["--base-url", base], { DESTDIR: root.path, MQ2WSBRIDGE_ARCH: "x86_64" });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, new RegExp(`cannot download ${base}/SHA256SUMS \\((curl|wget) exit status [1-9]`));
  assert.deepEqual(await listFiles(root.path), []);
});

Deno.test("install.sh says it needs curl or wget when neither is on PATH", async () => {
  await using root = await tempDir();
  await using bin = await tempDir();
  // Only what install.sh runs before it looks for a download tool.
  for (const tool of ["uname", "id"]) {
    const found = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "piped" })
      .output();
    await Deno.symlink(new TextDecoder().decode(found.stdout).trim(), join(bin.path, tool));
  }
  const run = await runInstaller(["--base-url", "https://example.invalid/release"], {
    PATH: bin.path,
    DESTDIR: root.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
  });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /neither curl nor wget is installed/);
  assert.deepEqual(await listFiles(root.path), []);
});

Deno.test("install.sh without --base-url asks for one when it does not come from a release", async () => {
  await using root = await tempDir();
  const run = await runInstaller([], { DESTDIR: root.path, MQ2WSBRIDGE_ARCH: "x86_64" });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /does not come from a release: pass --base-url, or set MQ2WSBRIDGE_REPO/);
});
