/**
 * Runs `rabbitmqctl -q ARGS` on the local broker (or on `node`, a private
 * one: chaos/private_broker.ts); throws with its stderr when it fails.
 */
export async function rabbitmqctl(args: string[], options: { node?: string } = {}): Promise<string> {
  const out = await new Deno.Command("rabbitmqctl", {
    args: ["-q", ...(options.node ? ["-n", options.node] : []), ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`rabbitmqctl ${args[0]} failed: ${text.decode(out.stderr)}`);
  return text.decode(out.stdout);
}
