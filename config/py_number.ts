/**
 * Numbers written the way Python reads them, since the original service read
 * its settings with Python's `int()` and `float()` (configparser's `getint`
 * and `getfloat` are exactly these). Both strip surrounding whitespace, take
 * an optional sign and single underscores between digits (`1_000`); `int()`
 * takes leading zeros (`007`); `float()` also takes `10.`, `.5`, an exponent
 * (`1e1`, `2.5E-3`) and `inf`/`infinity`/`nan` in any case.
 *
 * One difference: Python also accepts digits of other scripts (`١٠`); these
 * functions take ASCII digits only.
 */

const DIGITS = String.raw`\d(?:_?\d)*`;
const INT = new RegExp(`^[+-]?${DIGITS}$`);
const FLOAT = new RegExp(
  String.raw`^[+-]?(?:(?:${DIGITS})?\.${DIGITS}|${DIGITS}\.?)(?:[eE][+-]?${DIGITS})?$`,
);
const SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;

/** `float(text)`: the number, or null where Python would raise ValueError. */
export function pythonFloat(text: string): number | null {
  const t = text.trim();
  const special = SPECIAL.exec(t);
  if (special) {
    if (special[2]!.toLowerCase() === "nan") return NaN;
    return special[1] === "-" ? -Infinity : Infinity;
  }
  return FLOAT.test(t) ? Number(t.replaceAll("_", "")) : null;
}

/** `int(text)` (base 10): the number, or null where Python would raise ValueError. */
export function pythonInt(text: string): number | null {
  const t = text.trim();
  return INT.test(t) ? Number(t.replaceAll("_", "")) : null;
}
