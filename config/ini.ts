/**
 * A pure INI parser that follows Python's `configparser` defaults (strict
 * mode, BasicInterpolation), so a file written for the original service
 * reads the same here:
 *
 * - `=` or `:` between key and value, the first one on the line; keys are
 *   lowercased, values stripped;
 * - `#` and `;` start a comment only at the start of a line: inline comments
 *   are NOT stripped (`x = a ; b` is the value `a ; b`);
 * - a line indented deeper than its key continues the value (joined with
 *   newlines; blank lines inside are kept, trailing ones dropped);
 * - a section header is `[name]` at the start of a line, taken as written
 *   (not trimmed; anything after the closing `]` is ignored, as configparser
 *   ignores it);
 * - a section or a key that appears twice is an error, except `[DEFAULT]`,
 *   which may appear several times and is merged;
 * - `[DEFAULT]`'s keys apply to every section that does not set them;
 * - `%%` is a literal `%`, `%(key)s` the value of another key of the same
 *   section (or of `[DEFAULT]`); any other `%` is an error.
 *
 * Unlike configparser, which stops at the first duplicate, every problem is
 * collected. Problems name lines, sections and keys, never values (values may
 * be secrets).
 */

/** One parsed value and the line it came from. */
export interface IniEntry {
  value: string;
  line: number;
}

/** Parsed sections (in file order, `DEFAULT` included) and every problem found on the way. */
export interface IniDocument {
  sections: Map<string, Map<string, IniEntry>>;
  problems: string[];
}

/** One key of a section as configparser presents it: interpolated, or why it cannot be. */
export interface ResolvedEntry {
  /** The interpolated value; null when `error` says why there is none. */
  value: string | null;
  line: number;
  /** True when the key is not in the section itself but comes from `[DEFAULT]`. */
  inherited: boolean;
  /** Why interpolation failed (names no value). */
  error?: string;
}

/** configparser's `default_section`. */
export const DEFAULT_SECTION = "DEFAULT";

// configparser's SECTCRE, matched at the start of the stripped line: `.+` is greedy.
const SECTION = /^\[(.+)\]/;
// configparser's OPTCRE with delimiters `=` and `:`: the key is everything up to the first one.
const OPTION = /^(.*?)\s*[=:]\s*(.*)$/;
const MAX_INTERPOLATION_DEPTH = 10;

/** Parses INI text; never throws, reports problems as "line N: ..." strings. */
export function parseIni(text: string): IniDocument {
  const sections = new Map<string, Map<string, IniEntry>>();
  const problems: string[] = [];
  let current: Map<string, IniEntry> | undefined;
  let sectionName = "";
  let last: { entry: IniEntry; indent: number } | undefined;

  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    const indent = raw.length - raw.trimStart().length;
    if (trimmed.startsWith("#") || trimmed.startsWith(";")) return; // not even a blank line in a value
    if (trimmed === "") {
      if (last) last.entry.value += "\n";
      return;
    }
    if (last && indent > last.indent) {
      last.entry.value += "\n" + trimmed;
      return;
    }
    last = undefined;
    const header = SECTION.exec(trimmed);
    if (header) {
      sectionName = header[1]!;
      const existing = sections.get(sectionName);
      if (existing && sectionName !== DEFAULT_SECTION) {
        problems.push(`line ${line}: section [${sectionName}] appears twice`);
      }
      current = existing && sectionName === DEFAULT_SECTION ? existing : new Map();
      sections.set(sectionName, current);
      return;
    }
    const option = OPTION.exec(trimmed);
    if (!option || option[1] === "") {
      // The line itself is not quoted: it may hold a secret.
      problems.push(`line ${line}: expected "key = value" or "[section]"`);
      return;
    }
    if (!current) {
      problems.push(`line ${line}: "${option[1]}" comes before any [section] header`);
      return;
    }
    const key = option[1]!.toLowerCase();
    const previous = current.get(key);
    if (previous) {
      problems.push(
        `line ${line}: key "${key}" appears twice in section [${sectionName}] (first on line ${previous.line})`,
      );
      return;
    }
    const entry = { value: option[2]!, line };
    current.set(key, entry);
    last = { entry, indent };
  });

  for (const section of sections.values()) {
    for (const entry of section.values()) entry.value = entry.value.trimEnd();
  }
  return { sections, problems };
}

/**
 * The section `name` as configparser's `config[name]` presents it: its own
 * keys, then the `[DEFAULT]` keys it does not set, each interpolated in this
 * section's context (so `%(key)s` in a `[DEFAULT]` value sees the section's
 * own `key` first). A section missing from the file gets `[DEFAULT]` alone.
 */
export function resolveSection(doc: IniDocument, name: string): Map<string, ResolvedEntry> {
  const own = doc.sections.get(name) ?? new Map<string, IniEntry>();
  const defaults = name === DEFAULT_SECTION
    ? new Map<string, IniEntry>()
    : doc.sections.get(DEFAULT_SECTION) ?? new Map<string, IniEntry>();
  const lookup = (key: string) => own.get(key) ?? defaults.get(key);
  const resolved = new Map<string, ResolvedEntry>();
  const add = (key: string, entry: IniEntry, inherited: boolean) => {
    try {
      resolved.set(key, { value: interpolate(entry.value, lookup, 1), line: entry.line, inherited });
    } catch (err) {
      resolved.set(key, { value: null, line: entry.line, inherited, error: (err as Error).message });
    }
  };
  for (const [key, entry] of own) add(key, entry, false);
  for (const [key, entry] of defaults) if (!own.has(key)) add(key, entry, true);
  return resolved;
}

function interpolate(
  value: string,
  lookup: (key: string) => IniEntry | undefined,
  depth: number,
): string {
  if (depth > MAX_INTERPOLATION_DEPTH) {
    throw new Error(`interpolation nests deeper than ${MAX_INTERPOLATION_DEPTH} levels`);
  }
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch !== "%") {
      out += ch;
      continue;
    }
    const next = value[i + 1];
    if (next === "%") {
      out += "%";
      i++;
      continue;
    }
    const ref = /^\(([^)]+)\)s/.exec(value.slice(i + 1));
    if (!ref) {
      throw new Error(`"%" must be followed by "%" or "(name)s" (write "%%" for a literal "%")`);
    }
    const target = lookup(ref[1]!.toLowerCase());
    if (!target) throw new Error(`"%(${ref[1]})s" refers to a key that does not exist`);
    out += interpolate(target.value, lookup, depth + 1);
    i += ref[0].length;
  }
  return out;
}
