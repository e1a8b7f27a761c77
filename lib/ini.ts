/**
 * A pure INI parser that follows Python's `configparser` defaults, so a file
 * written for the original service reads the same here: `=` or `:` between
 * key and value, `#` and `;` comment lines (no inline comments), keys
 * case-insensitive, indented continuation lines, duplicate sections and keys
 * rejected, and basic interpolation (`%%` is a literal `%`, `%(key)s` is the
 * value of another key in the same section or in `[DEFAULT]`).
 */

/** One parsed value and the line it came from. */
export interface IniEntry {
  value: string;
  line: number;
}

/** Parsed sections (in file order) and every problem found on the way. */
export interface IniDocument {
  sections: Map<string, Map<string, IniEntry>>;
  problems: string[];
}

const SECTION = /^\[(.+)\]\s*$/;
const OPTION = /^([^=:]*?)\s*[=:]\s*(.*)$/;
const MAX_INTERPOLATION_DEPTH = 10;

/** Parses INI text; never throws, reports problems as "line N: ..." strings. */
export function parseIni(text: string): IniDocument {
  const sections = new Map<string, Map<string, IniEntry>>();
  const problems: string[] = [];
  let current: Map<string, IniEntry> | undefined;
  let sectionName = "";
  let last: { entry: IniEntry; indent: number } | undefined;

  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    const indent = raw.length - raw.trimStart().length;
    if (trimmed.startsWith("#") || trimmed.startsWith(";")) return;
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
      sectionName = header[1]!.trim();
      if (sections.has(sectionName)) {
        problems.push(`line ${line}: section [${sectionName}] appears twice`);
      }
      current = new Map();
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
    if (current.has(key)) {
      problems.push(`line ${line}: key "${key}" appears twice in section [${sectionName}]`);
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
 * Resolves `%%` and `%(key)s` in every value, as configparser's
 * BasicInterpolation does when a value is read. Problems name the section,
 * key and line, never the value (values may be secrets).
 */
export function interpolateIni(doc: IniDocument): IniDocument {
  const problems = [...doc.problems];
  const defaults = doc.sections.get("DEFAULT") ?? new Map<string, IniEntry>();
  const sections = new Map<string, Map<string, IniEntry>>();
  for (const [name, section] of doc.sections) {
    const resolved = new Map<string, IniEntry>();
    const lookup = (key: string) => section.get(key) ?? defaults.get(key);
    for (const [key, entry] of section) {
      try {
        resolved.set(key, { value: interpolate(entry.value, lookup, 0), line: entry.line });
      } catch (err) {
        problems.push(`line ${entry.line}: [${name}] ${key}: ${(err as Error).message}`);
      }
    }
    sections.set(name, resolved);
  }
  return { sections, problems };
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
