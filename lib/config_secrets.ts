/**
 * What a program needs from a loaded configuration besides `parseConfig`:
 * every secret registered with the `Redactor` (so no output line can carry
 * one), and the broker's CA file read. Same rules as main.ts applies; kept
 * here so bridgetester does not carry a second copy of them.
 */
import { SECRET_KEYS } from "./config_keys.ts";
import { type BridgeConfig, ConfigError, type RawConfig } from "./config.ts";
import type { Redactor } from "./secret.ts";

/** Registers each secret value of `raw` (and the password inside `mq_url`) with `redactor`. */
export function registerConfigSecrets(raw: RawConfig, redactor: Redactor): void {
  for (const key of SECRET_KEYS) {
    const value = raw.values.get(key);
    if (value === undefined) continue;
    redactor.add(value);
    if (key === "aws_mq.mq_url") {
      const password = URL.canParse(value) ? new URL(value).password : "";
      if (password) redactor.add(decodeURIComponent(password));
    }
  }
}

/** The PEM text of `aws_mq.mq_ca_file`, or null when not set; an unreadable file is a `ConfigError`. */
export function readBrokerCa(config: BridgeConfig): Promise<string | null> {
  return readPem(config.source, "aws_mq.mq_ca_file", config.mq.caFile);
}

/** The PEM text of `ws_api.ws_ca_file`, or null when not set; an unreadable file is a `ConfigError`. */
export function readApiCa(config: BridgeConfig): Promise<string | null> {
  return readPem(config.source, "ws_api.ws_ca_file", config.ws?.caFile ?? null);
}

async function readPem(source: string, key: string, path: string | null): Promise<string | null> {
  if (path === null) return null;
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(source, [`${key}: cannot read "${path}" (${(err as Error).message})`]);
  }
}
