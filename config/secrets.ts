/**
 * What a program needs from a loaded configuration besides `parseConfig`:
 * every secret registered with the `Redactor` (so no output line can carry
 * one), and the CA files read and checked. `resolveConfig` is the one way
 * mq2wsbridge (service and `--check-config`) and bridgetester turn raw values
 * into a configuration, so they refuse exactly the same things.
 */
import { SECRET_KEYS } from "./keys.ts";
import { type BridgeConfig, ConfigError, type ConfigNeeds, parseConfig, type RawConfig } from "./config.ts";
import { pemCertificatesProblem } from "./pem.ts";
import type { Redactor } from "../lib/secret.ts";

/** Registers each secret value of `raw` (and the password inside `mq_url`) with `redactor`. */
export function registerConfigSecrets(raw: RawConfig, redactor: Redactor): void {
  for (const key of SECRET_KEYS) {
    const value = raw.values.get(key);
    if (value === undefined) continue;
    redactor.add(value);
    if (key === "aws_mq.mq_url") {
      const password = URL.canParse(value) ? new URL(value).password : "";
      if (password) redactor.add(password);
      const decoded = safeDecode(password);
      if (decoded) redactor.add(decoded); // a malformed one is a ConfigError later, never a crash here
    }
  }
}

function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** Reads a file's text; tests pass their own. */
export type ReadText = (path: string) => Promise<string>;

/**
 * `parseConfig`, plus the CA files (`aws_mq.mq_ca_file`, and
 * `ws_api.ws_ca_file` when the WebSocket is needed) read and checked: every
 * problem (INI syntax, values, files) in one `ConfigError`.
 */
export async function resolveConfig(
  raw: RawConfig,
  needs: ConfigNeeds,
  read: ReadText = Deno.readTextFile,
): Promise<BridgeConfig> {
  const keys = ["aws_mq.mq_ca_file", ...needs.ws ? ["ws_api.ws_ca_file"] : []];
  const fileProblems: string[] = [];
  for (const key of keys) {
    const path = raw.values.get(key)?.trim();
    if (!path) continue;
    const pem = await checkedPem(path, read);
    if ("problem" in pem) fileProblems.push(`${raw.label?.(key) ?? key}: ${pem.problem}`);
  }
  return parseConfig({ ...raw, problems: [...raw.problems ?? [], ...fileProblems] }, needs);
}

/** The PEM text of `aws_mq.mq_ca_file`, or null when not set; a bad file is a `ConfigError`. */
export function readBrokerCa(
  config: BridgeConfig,
  read: ReadText = Deno.readTextFile,
): Promise<string | null> {
  return readPem(config.source, "aws_mq.mq_ca_file", config.mq.caFile, read);
}

/** The PEM text of `ws_api.ws_ca_file`, or null when not set; a bad file is a `ConfigError`. */
export function readApiCa(config: BridgeConfig, read: ReadText = Deno.readTextFile): Promise<string | null> {
  return readPem(config.source, "ws_api.ws_ca_file", config.ws?.caFile ?? null, read);
}

async function readPem(source: string, key: string, path: string | null, read: ReadText) {
  if (path === null) return null;
  const pem = await checkedPem(path, read);
  if ("problem" in pem) throw new ConfigError(source, [`${key}: ${pem.problem}`]);
  return pem.text;
}

/** The file's text when it holds PEM certificates, else what is wrong with it (naming the path). */
async function checkedPem(path: string, read: ReadText): Promise<{ text: string } | { problem: string }> {
  let text: string;
  try {
    text = await read(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "does not exist (expected a PEM file of CA certificates)"
      : err instanceof Deno.errors.PermissionDenied
      ? "cannot be read: permission denied (the service reads it as its own user)"
      : err instanceof Deno.errors.IsADirectory
      ? "is a directory, not a PEM file"
      : `cannot be read (${(err as Error).message})`;
    return { problem: `"${path}" ${why}` };
  }
  const problem = pemCertificatesProblem(text);
  return problem === null ? { text } : { problem: `"${path}" ${problem}` };
}
