/**
 * The INI file source: reads the file, parses it the way Python's
 * configparser would, and hands flat `section.key` values to `parseConfig`.
 * Syntax problems travel with the values, so they are reported together with
 * the value problems, in one list. Warns when the file (which holds secrets)
 * is readable by group or others. Also where both programs read the
 * instance metadata settings from the environment, for `-s` off EC2.
 */
import { DEFAULT_SECTION, parseIni, resolveSection } from "./ini.ts";
import { ConfigError, type RawConfig } from "./config.ts";
import { KEYS, KNOWN_KEYS } from "./keys.ts";
import type { ImdsOptions } from "../handlers/aws/imds.ts";

/** Raw values from an INI file, plus warnings the caller should log. */
export interface IniSource {
  raw: RawConfig;
  warnings: string[];
}

const KNOWN_SECTIONS = [...new Set(KEYS.map((k) => k.section))];

/**
 * Turns INI text into raw values; never throws: syntax and interpolation
 * problems are in `problems`. As configparser presents the file, `[DEFAULT]`'s
 * keys apply to every section that does not set them; here that is each of
 * the service's sections (present in the file or not) that knows the key, so
 * a `[DEFAULT]` key no section knows is reported as unknown.
 */
export function iniToRaw(text: string, source: string): RawConfig {
  const doc = parseIni(text);
  const problems = [...doc.problems];
  const values = new Map<string, string>();
  const inherited = new Set<string>();
  const sections = [...new Set([...doc.sections.keys(), ...KNOWN_SECTIONS])];
  for (const section of sections) {
    if (section === DEFAULT_SECTION) continue;
    for (const [key, entry] of resolveSection(doc, section)) {
      const name = `${section}.${key}`;
      if (entry.inherited && !KNOWN_KEYS.has(name)) continue; // [DEFAULT] covers the sections that know it
      if (entry.value === null) {
        const where = entry.inherited
          ? `[${DEFAULT_SECTION}] ${key}, used in [${section}]`
          : `[${section}] ${key}`;
        problems.push(`line ${entry.line}: ${where}: ${entry.error}`);
        continue;
      }
      values.set(name, entry.value);
      if (entry.inherited) inherited.add(name);
    }
  }
  for (const key of doc.sections.get(DEFAULT_SECTION)?.keys() ?? []) {
    if (!KNOWN_SECTIONS.some((section) => KNOWN_KEYS.has(`${section}.${key}`))) {
      problems.push(`${DEFAULT_SECTION}.${key}: is not a known setting in any section (misspelt?)`);
    }
  }
  return {
    source,
    values,
    problems,
    label: (key) => inherited.has(key) ? `${key} (from [${DEFAULT_SECTION}])` : key,
  };
}

/** Reads and parses an INI file; a missing or unreadable file is a `ConfigError`. */
export async function readIniFile(path: string): Promise<IniSource> {
  let text: string;
  let mode: number | null;
  try {
    text = await Deno.readTextFile(path);
    mode = (await Deno.stat(path)).mode;
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "the file does not exist (pass -c FILE, or -s to use Parameter Store)"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied reading the file"
      : `cannot read the file (${(err as Error).message})`;
    throw new ConfigError(path, [why]);
  }
  const warnings: string[] = [];
  if (mode !== null && (mode & 0o044) !== 0) {
    warnings.push(
      `Configuration file ${path} is readable by group or others (mode ${
        (mode & 0o777).toString(8).padStart(4, "0")
      }); it holds secrets, so restrict it: chmod 600 ${path}`,
    );
  }
  return { raw: iniToRaw(text, path), warnings };
}

/** Instance metadata settings, the standard AWS way (AWS_EC2_METADATA_SERVICE_ENDPOINT, _DISABLED). */
export function imdsOptionsFromEnv(): ImdsOptions {
  return {
    endpoint: Deno.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
    disabled: ["1", "true"].includes(Deno.env.get("AWS_EC2_METADATA_DISABLED")?.toLowerCase() ?? ""),
  };
}
