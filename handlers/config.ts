/**
 * The INI file source: reads the file, parses it the way Python's
 * configparser would, and hands flat `section.key` values to `parseConfig`.
 * Warns when the file (which holds secrets) is readable by group or others.
 */
import { interpolateIni, parseIni } from "../lib/ini.ts";
import { ConfigError, type RawConfig } from "../lib/config.ts";

/** Raw values from an INI file, plus warnings the caller should log. */
export interface IniSource {
  raw: RawConfig;
  warnings: string[];
}

/** Turns INI text into raw values; throws `ConfigError` on a malformed file. */
export function iniToRaw(text: string, source: string): RawConfig {
  const doc = interpolateIni(parseIni(text));
  if (doc.problems.length > 0) throw new ConfigError(source, doc.problems);
  const values = new Map<string, string>();
  for (const [section, entries] of doc.sections) {
    if (section === "DEFAULT") continue; // only a source for %(key)s interpolation
    for (const [key, entry] of entries) values.set(`${section}.${key}`, entry.value);
  }
  return { source, values };
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
