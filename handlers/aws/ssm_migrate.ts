/**
 * Migration to AWS Systems Manager Parameter Store (`-M`): makes the store
 * equal to the INI file. Every key the file sets is written as a SecureString,
 * every other parameter under the prefix is deleted (keys removed from the
 * file or left empty in it, the original's legacy names), so nothing stale
 * wins on the next `-s` run; then the store is read back and checked.
 *
 * Values are never printed: results and errors carry parameter names only,
 * and text AWS echoes back is scrubbed of the values being written.
 */
import { DeleteParametersCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { RawConfig } from "../../lib/raw_config.ts";
import { awsClientConfig, describeAwsError } from "./client.ts";
import { Redactor } from "../../lib/secret.ts";
import { parameterName, readError, readParameters, SSM_PREFIX, type SsmOptions } from "./ssm.ts";

/** What `migrateToSsm` did, by parameter name (never a value). */
export interface MigrationResult {
  /** Parameters written, one per non-empty INI key. */
  written: string[];
  /** INI keys (`section.key`) not written because they are empty. */
  skipped: string[];
  /** Parameters under the prefix that the INI file does not set, deleted. */
  deleted: string[];
}

/**
 * Makes Parameter Store equal to the INI file: writes every non-empty INI
 * value as a SecureString (KMS key `alias/aws/ssm`, overwriting), deletes
 * every other parameter under the prefix (keys the file no longer has, or
 * leaves empty, and the original's legacy names), then reads the store back
 * and checks it holds exactly what was written. Returns names, never values.
 */
export async function migrateToSsm(raw: RawConfig, options: SsmOptions): Promise<MigrationResult> {
  const prefix = options.prefix ?? SSM_PREFIX;
  const redactor = new Redactor();
  for (const value of raw.values.values()) redactor.add(value);
  // AWS validation messages quote the offending value ("Value 'x' at 'value' ...").
  const redact = (text: string) => redactor.redact(text).replace(/Value '[^']*'/g, "Value '***'");
  const region = options.region;

  const written = new Map<string, string>();
  const skipped: string[] = [];
  const client = new SSMClient(awsClientConfig({ ...options, maxAttempts: options.maxAttempts ?? 6 }));
  try {
    for (const [key, value] of raw.values) {
      if (value.trim() === "") {
        skipped.push(key); // SSM refuses empty values; an empty key means "unset", so it is deleted below
        continue;
      }
      const name = parameterName(key, prefix);
      try {
        await client.send(
          new PutParameterCommand({
            Name: name,
            Value: value,
            Type: "SecureString",
            KeyId: "alias/aws/ssm",
            Overwrite: true,
            Description: "migrated from INI",
          }),
        );
      } catch (err) {
        throw describeAwsError(
          `Cannot write parameter ${name} to SSM in ${region}`,
          err,
          redact,
          "ssm:PutParameter",
        );
      }
      written.set(name, value);
    }
    const stale = [...(await readBack(client, prefix, redact)).keys()].filter((name) => !written.has(name))
      .sort();
    await deleteParameters(client, stale, region);
    const stored = await readBack(client, prefix, redact);
    const wrong = [...written].filter(([name, value]) => stored.get(name) !== value).map(([name]) => name);
    const extra = [...stored.keys()].filter((name) => !written.has(name));
    if (wrong.length > 0 || extra.length > 0) {
      throw new Error(
        "Cannot verify the migration: " +
          [
            wrong.length > 0 ? `these parameters did not read back as written: ${wrong.join(", ")}` : "",
            extra.length > 0
              ? `these parameters are still there after deleting them: ${extra.join(", ")}`
              : "",
          ].filter(Boolean).join("; "),
      );
    }
    return { written: [...written.keys()], skipped, deleted: stale };
  } finally {
    client.destroy();
  }
}

async function readBack(client: SSMClient, prefix: string, redact: (s: string) => string) {
  try {
    return await readParameters(client, prefix);
  } catch (err) {
    throw readError(`Cannot read back migrated parameters under "${prefix}"`, err, redact);
  }
}

/** DeleteParameters takes at most 10 names a call; one already gone is fine. */
async function deleteParameters(client: SSMClient, names: readonly string[], region: string): Promise<void> {
  for (let i = 0; i < names.length; i += 10) {
    const chunk = names.slice(i, i + 10);
    try {
      await client.send(new DeleteParametersCommand({ Names: chunk }));
    } catch (err) {
      throw describeAwsError(
        `Cannot delete parameters ${chunk.join(", ")} (not in the INI file) from SSM in ${region}`,
        err,
        undefined,
        "ssm:DeleteParameters",
      );
    }
  }
}
