/**
 * The compile check: `deno compile` of both programs for both release targets,
 * with the permissions of scripts/programs.ts, proving that the module graph
 * resolves, type-checks and that every npm package it reaches is embedded.
 *
 * The runtime `deno compile` normally downloads (denort) cannot be fetched
 * here, so DENORT_BIN points at this deno executable: the output is then this
 * machine's deno with the program embedded, for either --target (so the
 * aarch64 output is an x86_64 file). It proves packaging, not behaviour; the
 * release workflow builds and smoke-tests the real binaries. Each build is
 * stamped as `deno task compile` stamps it (scripts/build_stamp.ts), and the
 * stamped build info is found in the output.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ALL_TARGETS, PROGRAMS, type Target } from "../../scripts/programs.ts";
import { LIBC_PATHS } from "../../lib/heap_trim.ts";
import { compileChecked, compileProgram, REPO_ROOT } from "../../scripts/compile.ts";
import { embeddedNpmPackages, graphNpmPackages } from "../../scripts/embedded.ts";
import { BUILD_INFO, stampBuild } from "../../scripts/build_stamp.ts";
import { tempDir } from "../_install_helpers.ts";

const DENORT_BIN = Deno.env.get("DENORT_BIN") ?? Deno.execPath();

for (const program of PROGRAMS) {
  for (const target of ALL_TARGETS) {
    Deno.test(`compileChecked() builds ${program.name} for ${target} with every npm package of its graph embedded and the commit stamped`, async () => {
      await assertEntryExists(program.entry);
      // Both programs speak AMQP: a graph without amqplib would make the embed check vacuous.
      assert.ok((await graphNpmPackages(program.entry, REPO_ROOT)).includes("amqplib"));
      await using out = await tempDir();
      const output = join(out.path, program.name);
      const committed = await Deno.readTextFile(join(REPO_ROOT, BUILD_INFO));
      await using stamp = await stampBuild(REPO_ROOT);
      await compileChecked(program, target as Target, output, {
        denortBin: DENORT_BIN,
        importMap: stamp.importMap,
      });
      const size = (await Deno.stat(output)).size;
      assert.ok(size > (await Deno.stat(DENORT_BIN)).size, "the output holds no embedded program");
      // The output cannot run here (it is this deno): look for the stamped build info in its bytes.
      const binary = new TextDecoder("latin1").decode(await Deno.readFile(output));
      assert.ok(
        binary.includes(`{"commit":${JSON.stringify(stamp.commit)}}`),
        `commit ${stamp.commit} embedded`,
      );
      assert.ok(!binary.includes(committed.trim()), "the committed placeholder is not embedded");
      assert.equal(
        await Deno.readTextFile(join(REPO_ROOT, BUILD_INFO)),
        committed,
        "the tree is left as it was",
      );
    });
  }
}

Deno.test("compileProgram() fails on a type error instead of compiling without checking", async () => {
  await using dir = await tempDir();
  const entry = join(dir.path, "bad.ts");
  await Deno.writeTextFile(entry, 'const port: number = "5672";\nconsole.log(port);\n');
  const program = { name: "bad", entry, permissions: [] };
  await assert.rejects(
    compileProgram(program, "x86_64-unknown-linux-gnu", join(dir.path, "bad"), { denortBin: DENORT_BIN }),
    /TS2322/,
  );
});

Deno.test("PROGRAMS grants neither program run or all permissions, ffi only to libc for mq2wsbridge, and only bridgetester writes", () => {
  for (const { name, permissions } of PROGRAMS) {
    for (const flag of permissions) assert.doesNotMatch(flag, /^--allow-(run|all)|^-A$/, name);
    const ffi = permissions.filter((flag) => flag.startsWith("--allow-ffi"));
    // Only the C library, by full path (lib/heap_trim.ts): never --allow-ffi alone, which opens any library.
    assert.deepEqual(ffi, name === "mq2wsbridge" ? [`--allow-ffi=${LIBC_PATHS.join(",")}`] : [], name);
    for (const path of LIBC_PATHS) assert.match(path, /^\/[\w/-]+\/libc\.so\.6$/);
    assert.equal(permissions.includes("--allow-write"), name === "bridgetester", name);
  }
});

Deno.test("deno task start runs mq2wsbridge with the permissions it is compiled with", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json"))).tasks;
  const mq2wsbridge = PROGRAMS.find((p) => p.name === "mq2wsbridge")!;
  assert.equal(tasks.start, `deno run ${mq2wsbridge.permissions.join(" ")} ${mq2wsbridge.entry}`);
});

Deno.test("embeddedNpmPackages() reads scoped and unscoped packages from a deno compile listing", () => {
  const listing = [
    "Compile main.ts to out",
    "",
    "Embedded Files",
    "",
    "out",
    "├─┬ .deno_compile_node_modules (12.54MB - 11.95MB unique)",
    "│ └─┬ localhost (12.54MB - 11.95MB unique)",
    "│   ├── @aws/lambda-invoke-store/* (29.2KB - 29.18KB unique)",
    "│   ├─┬ @aws-sdk (8.3MB - 8.07MB unique)",
    "│   │ ├── client-ssm/* (3.42MB - 3.38MB unique)",
    "│   │ └── xml-builder/* (41.22KB - 29.68KB unique)",
    "│   ├── amqplib/2.3.1/* (360.23KB - 359.71KB unique)",
    "│   └── tslib/2.9.1/* (91.25KB - 91.22KB unique)",
    "├── deno.json (1.37KB)",
    "└── main.ts (1.42KB)",
    "",
    "Files: 12.4MB",
  ].join("\n");
  assert.deepEqual([...embeddedNpmPackages(listing)].sort(), [
    "@aws-sdk/client-ssm",
    "@aws-sdk/xml-builder",
    "@aws/lambda-invoke-store",
    "amqplib",
    "tslib",
  ]);
});

async function assertEntryExists(entry: string): Promise<void> {
  try {
    await Deno.stat(join(REPO_ROOT, entry));
  } catch (error) {
    throw new Error(`Cannot run the compile check: ${entry} does not exist yet (it is the bridge core's)`, {
      cause: error,
    });
  }
}
