/**
 * install.sh fetching a release from a local HTTPS server (real curl,
 * trusting a throwaway CA made for the test), HTTPS only: a plain http:// URL
 * and a redirect from HTTPS to HTTP are refused. Also its errors when a
 * download fails or curl is missing.
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { listFiles, makeRelease, runInstaller, standInOutput, tempDir } from "../_install_helpers.ts";
import { makeTestPki, type TestPki } from "../_tls.ts";

/** Serves the files of `dir` under /release/ over HTTPS; /redirect/NAME sends to `redirectTo`/NAME. */
function serveRelease(
  dir: string,
  pki: TestPki,
  redirectTo?: string,
): Deno.HttpServer<Deno.NetAddr> & { url: string } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: pki.certPem, key: pki.keyPem, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      if (path.startsWith("/redirect/") && redirectTo) {
        return Response.redirect(`${redirectTo}/${basename(path)}`, 302);
      }
      if (!path.startsWith("/release/")) return new Response("not found", { status: 404 });
      try {
        return new Response(await Deno.readFile(join(dir, basename(path))));
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return Object.assign(server, { url: `https://127.0.0.1:${server.addr.port}` });
}

/** A plain-HTTP copy of the release, the target of a downgrade. */
function servePlain(dir: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    try {
      return new Response(await Deno.readFile(join(dir, basename(new URL(request.url).pathname))));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/** A PATH with every command of this machine but curl. */
async function pathWithoutCurl(bin: string): Promise<void> {
  for (const dir of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.name === "curl") continue;
        await Deno.symlink(join(dir, entry.name), join(bin, entry.name)).catch(() => {}); // first one wins
      }
    } catch { /* no such directory */ }
  }
}

Deno.test("install.sh downloads, verifies and installs a release over HTTPS", async () => {
  await using pki = await makeTestPki();
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  await using server = serveRelease(release.path, pki);
  const run = await runInstaller(["--base-url", `${server.url}/release`], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
    CURL_CA_BUNDLE: `${pki.dir}/ca.pem`, // curl's own way to trust the test CA
  });
  assert.equal(run.code, 0, run.stderr);
  const binary = await Deno.readTextFile(join(root.path, "opt/mq2wsbridge/bin/mq2wsbridge"));
  assert.match(binary, new RegExp(standInOutput("mq2wsbridge", "0.1.0", "x86_64")));
});

Deno.test("install.sh refuses a redirect from HTTPS to plain HTTP (curl --proto '=https')", async () => {
  await using pki = await makeTestPki();
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  await using plain = servePlain(release.path);
  await using server = serveRelease(release.path, pki, `http://127.0.0.1:${plain.addr.port}`);
  const run = await runInstaller(["--base-url", `${server.url}/redirect`], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
    CURL_CA_BUNDLE: `${pki.dir}/ca.pem`,
  });
  assert.notEqual(run.code, 0, run.stdout);
  assert.match(
    run.stderr,
    new RegExp(`cannot download ${server.url}/redirect/SHA256SUMS \\(curl exit status`),
  );
  assert.deepEqual(await listFiles(root.path), []);
});

Deno.test("install.sh asks for curl when only wget is there (wget would follow a redirect to HTTP)", async () => {
  await using root = await tempDir();
  await using bin = await tempDir();
  await pathWithoutCurl(bin.path);
  const run = await runInstaller(["--base-url", "https://example.invalid/release"], {
    PATH: bin.path,
    DESTDIR: root.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
  });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /curl is not installed: install it/);
  assert.deepEqual(await listFiles(root.path), []);
});

Deno.test("install.sh refuses a plain http:// base URL, naming it", async () => {
  await using root = await tempDir();
  const run = await runInstaller(["--base-url", "http://127.0.0.1:9/release"], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
  });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /refusing to download over plain HTTP: 'http:\/\/127\.0\.0\.1:9\/release'/);
  assert.deepEqual(await listFiles(root.path), []);
});

Deno.test("install.sh names the URL that failed to download", async () => {
  await using pki = await makeTestPki();
  await using release = await makeRelease("0.1.0");
  await using root = await tempDir();
  await using server = serveRelease(release.path, pki);
  const base = `${server.url}/no-such-release`;
  const run = await runInstaller(["--base-url", base], {
    DESTDIR: root.path,
    MQ2WSBRIDGE_ARCH: "x86_64",
    CURL_CA_BUNDLE: `${pki.dir}/ca.pem`,
  });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, new RegExp(`cannot download ${base}/SHA256SUMS \\(curl exit status [1-9]`));
  assert.deepEqual(await listFiles(root.path), []);
});

Deno.test("install.sh without --base-url asks for one when it does not come from a release", async () => {
  await using root = await tempDir();
  const run = await runInstaller([], { DESTDIR: root.path, MQ2WSBRIDGE_ARCH: "x86_64" });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /does not come from a release: pass --base-url, or set MQ2WSBRIDGE_REPO/);
});
