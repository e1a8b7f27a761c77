/**
 * A software bill of materials of the npm packages that `deno compile`
 * embeds in the release binaries, as CycloneDX 1.5 JSON, made from
 * `deno.lock`: every package the lock resolves from the workspace's imports,
 * with its exact version, package URL, the SHA-512 the lock pins, and the
 * dependency graph. The lock is what the build installs (`--frozen`), so the
 * SBOM names exactly what went into the binaries.
 *
 *   deno run --allow-read --allow-write --allow-run scripts/sbom.ts [--out FILE]
 *
 * The release (scripts/release.ts) writes it as `mq2wsbridge.cdx.json`.
 */
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { VERSION } from "../lib/version.ts";

/** The parts of a `deno.lock` (version 5) read here. */
export interface DenoLock {
  specifiers?: Record<string, string>;
  npm?: Record<string, { integrity?: string; dependencies?: string[]; optionalDependencies?: string[] }>;
  workspace?: { dependencies?: string[] };
}

/** What the SBOM describes and when it was made. */
export interface SbomMeta {
  name: string;
  version: string;
  /** ISO 8601; fixed by SOURCE_DATE_EPOCH for reproducible releases. */
  timestamp: string;
  /** The SPDX licence id of a package, when known. */
  license?: (name: string, version: string) => string | undefined;
}

/** One CycloneDX component. */
export interface SbomComponent {
  type: "library" | "application";
  "bom-ref": string;
  group?: string;
  name: string;
  version: string;
  purl?: string;
  hashes?: { alg: "SHA-512"; content: string }[];
  licenses?: { license: { id: string } }[];
}

/** A CycloneDX 1.5 BOM, as far as this script fills it. */
export interface CycloneDxBom {
  bomFormat: "CycloneDX";
  specVersion: "1.5";
  serialNumber: string;
  version: 1;
  metadata: {
    timestamp: string;
    tools: { components: { type: "application"; name: string; version: string }[] };
    component: SbomComponent;
  };
  components: SbomComponent[];
  dependencies: { ref: string; dependsOn: string[] }[];
}

/** `pkg:npm/%40aws-sdk/client-ssm@3.1169.0` for `@aws-sdk/client-ssm` 3.1169.0. */
export function npmPurl(name: string, version: string): string {
  return `pkg:npm/${name.replace(/^@/, "%40")}@${version}`;
}

/** `sha512-<base64>` as the hex digest CycloneDX wants. */
export function integrityHex(integrity: string): string | null {
  const match = /^sha512-([A-Za-z0-9+/=]+)$/.exec(integrity);
  if (!match) return null;
  const bytes = Uint8Array.from(atob(match[1]!), (c) => c.charCodeAt(0));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Splits `@scope/name@1.2.3` (a lock key) into name and version. */
function splitKey(key: string): { name: string; version: string } {
  const at = key.lastIndexOf("@");
  return { name: key.slice(0, at), version: key.slice(at + 1).split("_")[0]! };
}

/** The CycloneDX BOM of the npm packages `lock` resolves from its workspace imports; pure. */
export function cycloneDx(lock: DenoLock, meta: SbomMeta): CycloneDxBom {
  const packages = lock.npm ?? {};
  const keyByName = new Map<string, string>();
  for (const key of Object.keys(packages)) keyByName.set(splitKey(key).name, key);
  const resolve = (dependency: string): string => {
    if (dependency in packages) return dependency; // written as name@version when ambiguous
    const key = keyByName.get(dependency);
    if (!key) throw new Error(`Cannot make the SBOM: deno.lock has no package "${dependency}"`);
    return key;
  };
  const roots = (lock.workspace?.dependencies ?? []).filter((s) => s.startsWith("npm:")).map((spec) => {
    const name = splitKey(spec.slice(4)).name;
    const version = lock.specifiers?.[spec];
    if (!version) throw new Error(`Cannot make the SBOM: deno.lock does not resolve "${spec}"`);
    return resolve(`${name}@${version}`);
  });

  // Only what the imports reach: that is what the binaries embed.
  const reached = new Set<string>();
  const walk = (key: string) => {
    if (reached.has(key)) return;
    reached.add(key);
    const entry = packages[key]!;
    for (const dep of [...entry.dependencies ?? [], ...entry.optionalDependencies ?? []]) walk(resolve(dep));
  };
  roots.forEach(walk);

  const ref = (key: string) => {
    const { name, version } = splitKey(key);
    return npmPurl(name, version);
  };
  const components = [...reached].sort().map((key): SbomComponent => {
    const { name, version } = splitKey(key);
    const scoped = /^(@[^/]+)\/(.+)$/.exec(name);
    const hex = integrityHex(packages[key]!.integrity ?? "");
    const license = meta.license?.(name, version);
    return {
      type: "library",
      "bom-ref": ref(key),
      ...(scoped ? { group: scoped[1]!, name: scoped[2]! } : { name }),
      version,
      purl: ref(key),
      ...(hex ? { hashes: [{ alg: "SHA-512" as const, content: hex }] } : {}),
      ...(license ? { licenses: [{ license: { id: license } }] } : {}),
    };
  });
  const rootRef = `pkg:generic/${meta.name}@${meta.version}`;
  const dependencies = [
    { ref: rootRef, dependsOn: [...new Set(roots.map(ref))].sort() },
    ...[...reached].sort().map((key) => ({
      ref: ref(key),
      dependsOn: [...packages[key]!.dependencies ?? [], ...packages[key]!.optionalDependencies ?? []]
        .map((dep) => ref(resolve(dep))).sort(),
    })),
  ];
  // Same input, same serial number: a rebuild of a release gives the same file.
  const digest = createHash("sha256").update(JSON.stringify([meta.name, meta.version, components])).digest(
    "hex",
  );
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    serialNumber: `urn:uuid:${uuidFrom(digest)}`,
    version: 1,
    metadata: {
      timestamp: meta.timestamp,
      tools: {
        components: [{ type: "application", name: "mq2wsbridge scripts/sbom.ts", version: meta.version }],
      },
      component: {
        type: "application",
        "bom-ref": rootRef,
        name: meta.name,
        version: meta.version,
        licenses: [{ license: { id: "Apache-2.0" } }],
      },
    },
    components,
    dependencies,
  };
}

/** An RFC 4122 version-4-shaped UUID from the first 32 hex digits of `hex`. */
function uuidFrom(hex: string): string {
  const h = hex.slice(0, 32).split("");
  h[12] = "4";
  h[16] = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

/** Licence ids from the packages' own package.json in Deno's npm cache, when it has them. */
async function npmCacheLicenses(cwd: string): Promise<(name: string, version: string) => string | undefined> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], cwd, stdout: "piped" })
    .output();
  const cache = out.success ? (JSON.parse(new TextDecoder().decode(out.stdout)).npmCache as string) : "";
  return (name, version) => {
    try {
      const path = join(cache, "registry.npmjs.org", name, version, "package.json");
      const license = JSON.parse(Deno.readTextFileSync(path)).license;
      return typeof license === "string" && /^[\w.+-]+$/.test(license) ? license : undefined;
    } catch {
      return undefined;
    }
  };
}

/** Writes the SBOM of the repository at `root` to `path`; returns the BOM. */
export async function writeSbom(root: string, path: string, version = VERSION): Promise<CycloneDxBom> {
  const lock = JSON.parse(await Deno.readTextFile(join(root, "deno.lock"))) as DenoLock;
  const epoch = Deno.env.get("SOURCE_DATE_EPOCH");
  const bom = cycloneDx(lock, {
    name: "mq2wsbridge",
    version,
    timestamp: new Date(epoch ? Number(epoch) * 1000 : Date.now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    license: await npmCacheLicenses(root),
  });
  await Deno.writeTextFile(path, `${JSON.stringify(bom, null, 2)}\n`);
  return bom;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { out: { type: "string" } } });
  const root = new URL("..", import.meta.url).pathname;
  const out = values.out ?? join(root, "dist", "mq2wsbridge.cdx.json");
  const bom = await writeSbom(root, out);
  // deno-lint-ignore no-console
  console.log(`SBOM of ${bom.components.length} npm packages in ${out}`);
}
