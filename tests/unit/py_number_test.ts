/**
 * pythonFloat() and pythonInt() against Python's own float() and int() (what
 * the original service and configparser's getfloat/getint call), run in a
 * real python3 on the same strings.
 */
import assert from "node:assert/strict";
import { pythonFloat, pythonInt } from "../../config/py_number.ts";

const INPUTS = [
  "10",
  " 10 ",
  "\t10\n",
  "+10",
  "-10",
  "010",
  "1_000",
  "1__000",
  "_1",
  "1_",
  "10.0",
  "10.",
  ".5",
  ".",
  "1e1",
  "1E+1",
  "2.5e-3",
  "1e",
  "e1",
  "1_0.5_0e1_0",
  "1._5",
  "inf",
  "-Infinity",
  "NaN",
  "+nan",
  "infinit",
  "0x10",
  "1,5",
  "10s",
  "",
  " ",
  "1 0",
  "--1",
  "١٠", // Arabic-Indic digits: Python takes them, we do not (see config/py_number.ts)
];

const SCRIPT = `
import json, sys
def attempt(f, s):
    try:
        v = f(s)
        return "nan" if v != v else repr(float(v))
    except ValueError:
        return None
print(json.dumps([[attempt(float, s), attempt(int, s)] for s in json.load(sys.stdin)]))
`;

async function python(inputs: string[]): Promise<[string | null, string | null][]> {
  const child = new Deno.Command("python3", { args: ["-c", SCRIPT], stdin: "piped", stdout: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(inputs)));
  await writer.close();
  const out = await child.output();
  assert.ok(out.success);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Python's repr of a float, for comparison. */
function repr(value: number | null): string | null {
  if (value === null) return null;
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

Deno.test("pythonFloat() and pythonInt() accept and refuse what Python's float() and int() do (ASCII digits)", async () => {
  const expected = await python(INPUTS);
  for (const [i, input] of INPUTS.entries()) {
    const [float, int] = expected[i]!;
    if (/[^ -~\s]/.test(input)) {
      assert.notEqual(float, null, "Python takes other scripts' digits");
      assert.equal(pythonFloat(input), null, "we do not");
      continue;
    }
    assert.equal(repr(pythonFloat(input)), float, `float(${JSON.stringify(input)})`);
    assert.equal(repr(pythonInt(input)), int, `int(${JSON.stringify(input)})`);
  }
});
