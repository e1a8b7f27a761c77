/**
 * AWS Systems Manager Parameter Store as a configuration source (`-s`) and
 * target (`-M`). Hides the SSM client: reads every parameter under
 * `/mq2wsbridge` in one paged GetParametersByPath walk and hands back the same
 * `RawConfig` an INI file gives, with each key labelled by its parameter name
 * so validation errors point at the parameter to fix. Accepts the names the
 * original service wrote (the INI name wins when both exist). Migration (`-M`)
 * is in ssm_migrate.ts.
 *
 * A refused permission (IAM, or KMS for SecureString values) is an
 * `AwsPermissionError` naming the action to allow; restarting cannot fix it.
 *
 * Values are never printed: errors carry parameter names only, and any text
 * the service echoes back is scrubbed of the values being written.
 */
import { GetParametersByPathCommand, SSMClient } from "@aws-sdk/client-ssm";
import { loadConfig } from "@smithy/core/config";
import { ConfigError, type RawConfig } from "../../lib/raw_config.ts";
import {
  awsClientConfig,
  type AwsOptions,
  AwsPermissionError,
  describeAwsError,
  isPermissionFailure,
} from "./client.ts";

/** Where the parameters live, plus the usual client settings. */
export interface SsmOptions extends AwsOptions {
  /** Path prefix; default `/mq2wsbridge`. */
  prefix?: string | undefined;
}

/** The path prefix of every parameter. */
export const SSM_PREFIX = "/mq2wsbridge";

/** The original service's parameter names (`section.key`) and the INI names they stand for. */
export const LEGACY_NAMES: ReadonlyMap<string, string> = new Map([
  ["ws_api.ws_api_host", "ws_api.api_host"],
  ["ws_api.ws_api_uri", "ws_api.api_uri"],
  ["ws_api.ws_client_id", "ws_api.client_id"],
  ["ws_api.ws_client_password", "ws_api.client_secret"],
  ["aws_mq.mq_userid", "aws_mq.mq_user_id"],
]);

/** Raw values from Parameter Store, plus warnings the caller should log. */
export interface SsmSource {
  raw: RawConfig;
  warnings: string[];
}

/** `/mq2wsbridge/aws_mq/mq_port` for `aws_mq.mq_port`. */
export function parameterName(key: string, prefix = SSM_PREFIX): string {
  return `${prefix}/${key.replace(".", "/")}`;
}

/** Turns parameters (full name → value) into raw configuration; pure. */
export function parametersToRaw(params: ReadonlyMap<string, string>, prefix = SSM_PREFIX): SsmSource {
  const values = new Map<string, string>();
  const labels = new Map<string, string>();
  const warnings: string[] = [];
  const keyOf = (name: string) => name.slice(prefix.length + 1).replace("/", ".");
  const present = new Set([...params.keys()].map(keyOf));
  for (const [name, value] of params) {
    const key = keyOf(name);
    const canonical = LEGACY_NAMES.get(key);
    if (canonical === undefined) {
      values.set(key, value);
      labels.set(key, name);
    } else if (present.has(canonical)) {
      warnings.push(`Parameter ${name} is ignored: ${parameterName(canonical, prefix)} is also set`);
    } else {
      values.set(canonical, value);
      labels.set(canonical, name);
    }
  }
  return {
    raw: {
      source: `ssm:${prefix}`,
      values,
      label: (key) => labels.get(key) ?? parameterName(key, prefix),
    },
    warnings,
  };
}

/** Reads the configuration from Parameter Store (every page, decrypted). */
export async function readSsmConfig(options: SsmOptions): Promise<SsmSource> {
  const prefix = options.prefix ?? SSM_PREFIX;
  const client = new SSMClient(awsClientConfig(options));
  let params: Map<string, string>;
  try {
    params = await readParameters(client, prefix);
  } catch (err) {
    throw readError(`Cannot read parameters under "${prefix}" from SSM in ${options.region}`, err);
  } finally {
    client.destroy();
  }
  if (params.size === 0) {
    throw new ConfigError(`ssm:${prefix}`, [
      `no parameters found under ${prefix} in region ${options.region} ` +
      `(wrong region? to fill the store from an INI file: -c FILE -s -M)`,
    ]);
  }
  return parametersToRaw(params, prefix);
}

/**
 * Reading decrypts SecureString values with their KMS key: a key the role may
 * not use surfaces as AccessDenied from KMS (or InvalidKeyId), and names
 * kms:Decrypt; any other denial names ssm:GetParametersByPath.
 */
export function readError(action: string, err: unknown, redact?: (s: string) => string): Error {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const kms = (err as Error)?.name === "InvalidKeyId" ||
    (isPermissionFailure(err) && /kms:|AWSKMS|KMS key|ciphertext/i.test(text));
  if (!kms) return describeAwsError(action, err, redact, "ssm:GetParametersByPath");
  const reason = `KMS refused to decrypt a SecureString parameter (${redact ? redact(text) : text}): allow ` +
    `kms:Decrypt on the parameter's KMS key in the IAM policy of the instance role ` +
    `(the AWS managed key alias/aws/ssm needs no statement)`;
  return new AwsPermissionError(`${action}: ${reason}`, "kms:Decrypt", { cause: err });
}

export async function readParameters(client: SSMClient, prefix: string): Promise<Map<string, string>> {
  const params = new Map<string, string>();
  let token: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const out = await client.send(
      new GetParametersByPathCommand({
        Path: prefix,
        Recursive: true,
        WithDecryption: true,
        MaxResults: 10,
        ...(token ? { NextToken: token } : {}),
      }),
    );
    for (const p of out.Parameters ?? []) {
      if (p.Name !== undefined && p.Value !== undefined) params.set(p.Name, p.Value);
    }
    token = out.NextToken;
    if (!token) return params;
  }
  throw new Error(`more than 1000 pages of parameters under ${prefix}`);
}

/** Where the region for Parameter Store may come from; `env` defaults to the process environment. */
export interface RegionSources {
  /** `-r REGION`. */
  explicit?: string | null | undefined;
  env?: (name: string) => string | undefined;
  /** Looks up the EC2 instance's region (IMDSv2); null when not on EC2. */
  instanceRegion?: () => Promise<string | null>;
}

/** The region and where it came from, for an INFO line. */
export interface ResolvedRegion {
  region: string;
  from: string;
}

/**
 * `-r`, then AWS_REGION, AWS_DEFAULT_REGION, the shared config file, then
 * IMDSv2; else a ConfigError saying to pass -r. (The SDK alone would skip
 * AWS_DEFAULT_REGION, which only the AWS CLI reads.)
 */
export async function resolveRegion(sources: RegionSources): Promise<ResolvedRegion> {
  const env = sources.env ?? ((name: string) => Deno.env.get(name));
  if (sources.explicit) return { region: sources.explicit, from: "-r" };
  for (const name of ["AWS_REGION", "AWS_DEFAULT_REGION"]) {
    const value = env(name)?.trim();
    if (value) return { region: value, from: name };
  }
  const fromFile = await sharedConfigRegion();
  if (fromFile) return { region: fromFile, from: "the shared AWS config file" };
  const fromInstance = await sources.instanceRegion?.();
  if (fromInstance) return { region: fromInstance, from: "the EC2 instance metadata" };
  throw new ConfigError(`ssm:${SSM_PREFIX}`, [
    "Cannot find the AWS region of Parameter Store: pass -r REGION (it is not in AWS_REGION, " +
    "AWS_DEFAULT_REGION or the shared AWS config file, and no EC2 instance metadata service answered)",
  ]);
}

/**
 * The region in the shared config files (the profile from AWS_PROFILE), read
 * the way the SDK reads it, or null. Not through a client's own region
 * provider: that one also asks the instance metadata service, which
 * `resolveRegion` does afterwards with its own deadline.
 */
async function sharedConfigRegion(): Promise<string | null> {
  try {
    const region = await loadConfig<string | undefined>(
      {
        environmentVariableSelector: () => undefined,
        configFileSelector: (profile) => profile["region"],
        default: () => undefined,
      },
      { preferredFile: "credentials" },
    )();
    return region || null;
  } catch {
    return null; // an unreadable or malformed file
  }
}
