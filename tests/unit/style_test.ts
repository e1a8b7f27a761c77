/**
 * The project's own checks, run as tests so the one test command covers
 * them: formatting, lint rules (no-console, camelcase, recommended) and a
 * full type check of every program and script.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

async function deno(args: string[]): Promise<{ ok: boolean; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, env: { NO_COLOR: "1" } }).output();
  const text = new TextDecoder();
  return { ok: out.success, output: text.decode(out.stdout) + text.decode(out.stderr) };
}

Deno.test("deno fmt --check finds every file formatted [style]", async () => {
  const { ok, output } = await deno(["fmt", "--check"]);
  assert.ok(ok, output);
});

Deno.test("deno lint finds no problem [style]", async () => {
  const { ok, output } = await deno(["lint"]);
  assert.ok(ok, output);
});

Deno.test("deno check type-checks every program and script [style]", async () => {
  const programs = [
    "main.ts",
    "tester.ts",
    "demo/demo.ts",
    "tools/echo_server.ts",
    "tools/api_server.ts",
    "scripts/compile.ts",
    "scripts/release.ts",
    "chaos/chaos.ts",
    "chaos/soak.ts",
  ];
  const { ok, output } = await deno(["check", ...programs]);
  assert.ok(ok, output);
});
