/**
 * Proof that a compiled binary carries its npm packages: compares the npm
 * packages in a program's module graph (`deno info --json`) with the
 * "Embedded Files" listing that `deno compile` prints. The listing is Deno's
 * human-readable tree (pinned Deno 2.9.6); if its shape changes, the parse
 * finds no packages and the check fails loudly rather than passing.
 */

const NODE_MODULES = ".deno_compile_node_modules/localhost/";

/** Every path in the tree `deno compile` prints under "Embedded Files" (printed with NO_COLOR). */
export function embeddedPaths(listing: string): string[] {
  const lines = listing.split("\n");
  const start = lines.findIndex((line) => line.trim() === "Embedded Files");
  if (start < 0) return [];
  const paths: string[] = [];
  const stack: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const match = /^([│├└─┬ ]*[─┬] )(.+?)(?: \([^()]*\))?$/.exec(line);
    if (!match) {
      if (paths.length > 0 && line.trim() === "") break;
      continue;
    }
    // Each level of the tree indents by two characters; the top level starts at 4.
    const depth = (match[1]!.length - 4) / 2;
    stack.length = depth;
    stack.push(match[2]!.replace(/\/\*$/, ""));
    paths.push(stack.join("/"));
  }
  return paths;
}

/** Names of the npm packages embedded in a compiled binary, from its listing. */
export function embeddedNpmPackages(listing: string): Set<string> {
  const names = new Set<string>();
  for (const path of embeddedPaths(listing)) {
    if (!path.startsWith(NODE_MODULES)) continue;
    const parts = path.slice(NODE_MODULES.length).split("/");
    const name = parts[0]!.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
    if (!name.startsWith("@") || name.includes("/")) names.add(name);
  }
  return names;
}

/** Names of the npm packages reachable from `entry`, as `deno info` resolves them. */
export async function graphNpmPackages(entry: string, cwd: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot read the module graph of ${entry}: ${new TextDecoder().decode(out.stderr)}`);
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { npmPackages?: Record<string, unknown> };
  return Object.keys(info.npmPackages ?? {}).map((id) => id.slice(0, id.lastIndexOf("@"))).sort();
}

/** The graph's npm packages that the listing does not show as embedded (empty means all are). */
export function missingPackages(graph: readonly string[], listing: string): string[] {
  const embedded = embeddedNpmPackages(listing);
  return graph.filter((name) => !embedded.has(name));
}
