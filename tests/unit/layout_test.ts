/**
 * The layout's rules (ARCHITECTURE.md), checked on every relative import of
 * the program's folders: nothing in handlers/ or lib/ imports bridge/,
 * config/ or tester/; lib/ imports nothing from handlers/; a folder of
 * handlers/ imports only itself and lib/; the core files of
 * bridge/ (all but bridge.ts, the wiring) import only bridge/ and lib/; and
 * no module imports itself back through others (no cycles).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const FOLDERS = ["bridge", "config", "tester", "handlers", "lib"];
const SPECIFIER = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

/** Every .ts file under the program's folders, plus the two CLIs, with the files it imports. */
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  const files = ["main.ts", "tester.ts"];
  for (const folder of FOLDERS) files.push(...await list(folder));
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    const base = new URL(file, ROOT);
    graph.set(
      file,
      [...text.matchAll(SPECIFIER)].map((m) => new URL(m[1]!, base).pathname.slice(ROOT.pathname.length)),
    );
  }
  return graph;
}

async function list(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(new URL(`${dir}/`, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await list(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

const top = (file: string) => file.split("/")[0]!;

Deno.test("nothing in handlers/ or lib/ imports bridge/, config/ or tester/; lib/ imports no handler", async () => {
  const wrong: string[] = [];
  for (const [file, imports] of await importGraph()) {
    for (const target of imports) {
      const [from, to] = [top(file), top(target)];
      if ((from === "handlers" || from === "lib") && ["bridge", "config", "tester"].includes(to)) {
        wrong.push(`${file} -> ${target}`);
      }
      if (from === "lib" && to === "handlers") wrong.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("a folder of handlers/ (one external system) imports only its own files and lib/", async () => {
  const wrong: string[] = [];
  const system = (file: string) => file.split("/").slice(0, 2).join("/");
  for (const [file, imports] of await importGraph()) {
    if (top(file) !== "handlers") continue;
    for (const target of imports) {
      if (top(target) === "handlers" && system(target) !== system(file)) wrong.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("the core in bridge/ imports only bridge/ and lib/ (bridge.ts, the wiring, may read config/ types)", async () => {
  const wrong: string[] = [];
  for (const [file, imports] of await importGraph()) {
    if (top(file) !== "bridge") continue;
    for (const target of imports) {
      const allowed = ["bridge", "lib"].includes(top(target)) ||
        (file === "bridge/bridge.ts" && top(target) === "config");
      if (!allowed) wrong.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("no import cycles", async () => {
  const graph = await importGraph();
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    state.set(file, "open");
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") cycles.push([...path.slice(path.indexOf(next)), next].join(" -> "));
      else if (!state.has(next)) visit(next, [...path, next]);
    }
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
  assert.deepEqual(cycles, []);
});
