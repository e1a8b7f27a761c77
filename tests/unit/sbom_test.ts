/** scripts/sbom.ts: the CycloneDX SBOM of the npm packages embedded in the binaries, from deno.lock. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/compile.ts";
import { graphNpmPackages } from "../../scripts/embedded.ts";
import { cycloneDx, type DenoLock, integrityHex, npmPurl, writeSbom } from "../../scripts/sbom.ts";
import { PROGRAMS } from "../../scripts/programs.ts";
import { tempDir } from "../_install_helpers.ts";

const LOCK = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.lock"))) as DenoLock;
const META = { name: "mq2wsbridge", version: "9.9.9", timestamp: "2026-01-01T00:00:00Z" };
const fullName = (c: { group?: string; name: string }) => c.group ? `${c.group}/${c.name}` : c.name;

Deno.test("cycloneDx() lists every npm package the lock resolves, with version, purl and the lock's SHA-512", () => {
  const bom = cycloneDx(LOCK, META);
  assert.equal(bom.bomFormat, "CycloneDX");
  assert.equal(bom.specVersion, "1.5");
  assert.match(
    bom.serialNumber,
    /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.deepEqual(
    bom.components.map((c) => `${fullName(c)}@${c.version}`).sort(),
    Object.keys(LOCK.npm!).sort(),
  );
  const amqplib = bom.components.find((c) => c.name === "amqplib")!;
  assert.equal(amqplib.version, "2.3.1");
  assert.equal(amqplib.purl, "pkg:npm/amqplib@2.3.1");
  const ssm = bom.components.find((c) => c.name === "client-ssm")!;
  assert.equal(ssm.group, "@aws-sdk");
  assert.equal(ssm.purl, npmPurl("@aws-sdk/client-ssm", ssm.version));
  assert.match(ssm.purl!, /^pkg:npm\/%40aws-sdk\/client-ssm@3\.\d+\.\d+$/);
  for (const component of bom.components) {
    const key = `${fullName(component)}@${component.version}`;
    assert.deepEqual(component.hashes, [{
      alg: "SHA-512",
      content: integrityHex(LOCK.npm![key]!.integrity!),
    }]);
    assert.match(component.hashes![0]!.content, /^[0-9a-f]{128}$/);
  }
  // The graph: the product depends on the workspace's imports; every reference resolves.
  const refs = new Set(bom.components.map((c) => c["bom-ref"]));
  const root = bom.dependencies.find((d) => d.ref === bom.metadata.component["bom-ref"])!;
  assert.equal(root.dependsOn.length, LOCK.workspace!.dependencies!.length);
  for (const { dependsOn } of bom.dependencies) for (const ref of dependsOn) assert.ok(refs.has(ref), ref);
  assert.deepEqual(cycloneDx(LOCK, META), bom, "same lock, same SBOM");
});

Deno.test("cycloneDx() names the package when the lock cannot resolve a dependency", () => {
  const broken: DenoLock = {
    specifiers: { "npm:a@1.0.0": "1.0.0" },
    npm: { "a@1.0.0": { integrity: "sha512-AAAA", dependencies: ["b"] } },
    workspace: { dependencies: ["npm:a@1.0.0"] },
  };
  assert.throws(() => cycloneDx(broken, META), /deno\.lock has no package "b"/);
});

Deno.test("writeSbom() covers exactly the npm packages in the compiled programs' module graphs", async () => {
  await using dir = await tempDir();
  const bom = await writeSbom(REPO_ROOT, join(dir.path, "sbom.json"), "9.9.9");
  const written = JSON.parse(await Deno.readTextFile(join(dir.path, "sbom.json")));
  assert.deepEqual(written, bom);
  const graph = new Set<string>();
  for (const program of PROGRAMS) {
    for (const name of await graphNpmPackages(program.entry, REPO_ROOT)) graph.add(name);
  }
  assert.deepEqual(bom.components.map(fullName).sort(), [...graph].sort());
  // Licences come from the packages themselves (Deno's npm cache).
  assert.deepEqual(bom.components.find((c) => c.name === "amqplib")?.licenses, [{ license: { id: "MIT" } }]);
});
