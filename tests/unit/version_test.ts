import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { buildInfo, SOURCE_COMMIT, VERSION, versionLine } from "../../lib/version.ts";

Deno.test("buildInfo() names deno.json's version, the commit (source when not compiled), the target and Deno", () => {
  assert.deepEqual(buildInfo(), {
    version: denoJson.version,
    commit: "source",
    target: Deno.build.target,
    deno: Deno.version.deno,
  });
  assert.equal(VERSION, denoJson.version);
  assert.equal(SOURCE_COMMIT, "source");
  assert.match(buildInfo().target, /^[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+/);
  assert.match(buildInfo().deno, /^\d+\.\d+\.\d+/);
});

Deno.test("versionLine() puts the program, version, commit, target and Deno version on one line", () => {
  const info = {
    version: "0.1.0",
    commit: "8988e8bf10a2",
    target: "x86_64-unknown-linux-gnu",
    deno: "2.9.6",
  };
  assert.equal(
    versionLine("mq2wsbridge", info),
    "mq2wsbridge 0.1.0 (commit 8988e8bf10a2, x86_64-unknown-linux-gnu, deno 2.9.6)",
  );
  assert.equal(
    versionLine("bridgetester"),
    `bridgetester ${denoJson.version} (commit source, ${Deno.build.target}, deno ${Deno.version.deno})`,
  );
});
