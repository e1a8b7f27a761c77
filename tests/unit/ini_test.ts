/**
 * The INI reader against Python's own configparser: each case is parsed by
 * config/ini.ts and by `configparser.ConfigParser()` (the original service's
 * reader, strict mode, BasicInterpolation) run in a real python3, and the
 * two must agree on every section, key and value, and on which files and
 * keys are errors. Then the messages, which must never quote a value.
 */
import assert from "node:assert/strict";
import { DEFAULT_SECTION, parseIni, resolveSection } from "../../config/ini.ts";

/** Python's view: sections (DEFAULT's keys merged in) with values, or the error it raised. */
type Python = { error: string } | { sections: Record<string, Record<string, string | { error: string }>> };

const PYTHON_SCRIPT = `
import configparser, json, sys, tempfile
out = []
for text in json.load(sys.stdin):
    cp = configparser.ConfigParser()
    # From a file, as the original read it: universal newlines apply (a lone CR ends a line too).
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".ini") as f:
        f.write(text)
        f.flush()
        try:
            cp.read(f.name, encoding="utf-8")
            failed = None
        except configparser.Error as e:
            failed = type(e).__name__
    if failed:
        out.append({"error": failed})
        continue
    sections = {}
    for name in cp.sections():
        values = {}
        for key in cp[name]:
            try:
                values[key] = cp[name][key]
            except configparser.Error as e:
                values[key] = {"error": type(e).__name__}
        sections[name] = values
    out.append({"sections": sections})
json.dump(out, sys.stdout)
`;

async function python(texts: string[]): Promise<Python[]> {
  const child = new Deno.Command("python3", {
    args: ["-c", PYTHON_SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(texts)));
  await writer.close();
  const out = await child.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Ours, in Python's shape. */
function ours(text: string): Python {
  const doc = parseIni(text);
  if (doc.problems.length > 0) return { error: doc.problems.join("; ") };
  const sections: Record<string, Record<string, string | { error: string }>> = {};
  for (const name of doc.sections.keys()) {
    if (name === DEFAULT_SECTION) continue;
    sections[name] = Object.fromEntries(
      [...resolveSection(doc, name)].map(([key, e]) => [key, e.value ?? { error: e.error! }]),
    );
  }
  return { sections };
}

/** Each case: what an operator may have in an INI file written for the original. */
const CASES: Record<string, string> = {
  "= and : delimiters, spaces around them": "[a]\nx = 1\ny:2\nz =  spaced value  \nw : v\n",
  "the first delimiter splits; the rest is value": "[a]\nurl = amqp://h:5672/v?x=1\nk: a=b:c\n",
  "comment lines, # and ;, indented too": "# top\n[a]\n; note\n  # indented comment\nx = 1\n",
  "inline comments are NOT stripped": "[a]\nx = a ; b\ny = c # d\nz = e;f#g\n",
  "keys are case-insensitive, section names are not": "[Ws_API]\nClient_ID = abc\n[ws_api]\nclient_id = d\n",
  "continuation lines, a blank line inside, trailing blanks dropped":
    "[a]\nx = first\n  second\n\n  third\n\n\ny = 2\n",
  "a continuation deeper than an indented key": "[a]\n  x = 1\n    more\n  y = 2\n",
  "an indented [header] after a key is a continuation": "[a]\nx = 1\n  [b]\n",
  "a comment between continuation lines is skipped": "[a]\nx = 1\n# note\n  2\n",
  "empty values": "[a]\nempty =\nalso:\n",
  "CRLF and CR line ends": "[a]\r\nx = 1\r\ny = 2\rz = 3\r\n",
  "text after a section header's ] is ignored": "[a] ; the broker\nx = 1\n[b]]\ny = 2\n",
  "section names are taken as written": "[ spaced ]\nx = 1\n",
  "[DEFAULT] applies to every section": "[DEFAULT]\nport = 5672\n[a]\nx = 1\n[b]\nport = 1\n",
  "[DEFAULT] may appear twice and is merged": "[DEFAULT]\np = 1\n[a]\nx = 2\n[DEFAULT]\nq = 3\n",
  "%% and %(key)s, from the section and from [DEFAULT]":
    "[DEFAULT]\nhost = example.com\n[a]\nname = q\nurl = %(host)s/%(name)s\npct = 100%%\n",
  "a [DEFAULT] value interpolates in each section's context":
    "[DEFAULT]\nurl = amqp://%(h)s\nh = default\n[a]\nh = mine\n[b]\n",
  "a bad % is an error of that key only": "[a]\nbad = se%cret\nmissing = %(nope)s\nok = 1\n",
  "interpolation nested too deep": "[a]\nx = %(x)s\n",
  "uppercase in a %(KEY)s reference": "[a]\nName = v\nref = %(NAME)s\n",
  "a duplicate key (strict)": "[a]\nx = 1\nX = 2\n",
  "a duplicate section (strict)": "[a]\nx = 1\n[a]\ny = 2\n",
  "a duplicate key across two [DEFAULT] blocks": "[DEFAULT]\np = 1\n[DEFAULT]\np = 2\n",
  "a key before any section": "x = 1\n[a]\n",
  "a line without a delimiter": "[a]\nmq_password hunter2\n",
  "a line with an empty key": "[a]\n= value\n",
};

Deno.test("parseIni() and resolveSection() read every case exactly as Python's configparser does", async () => {
  const names = Object.keys(CASES);
  const expected = await python(Object.values(CASES));
  for (const [i, name] of names.entries()) {
    const theirs = expected[i]!;
    const mine = ours(CASES[name]!);
    if ("error" in theirs) {
      assert.ok(
        "error" in mine,
        `${name}: configparser raised ${theirs.error}, we read ${JSON.stringify(mine)}`,
      );
      continue;
    }
    assert.ok(!("error" in mine), `${name}: configparser reads it, we report ${JSON.stringify(mine)}`);
    // Only whether a key fails matters, not the exception's name.
    const errorsAsTrue = (p: Python) =>
      JSON.parse(JSON.stringify(p), (_k, v) => typeof v === "object" && v && "error" in v ? true : v);
    assert.deepEqual(errorsAsTrue(mine), errorsAsTrue(theirs), name);
  }
});

Deno.test("parseIni() skips a UTF-8 byte order mark (configparser would stop at it: Notepad writes one)", () => {
  const doc = parseIni("\uFEFF[a]\nx = 1\n");
  assert.deepEqual(doc.problems, []);
  assert.equal(doc.sections.get("a")?.get("x")?.value, "1");
});

Deno.test("parseIni() reports every duplicate, not only the first, with both line numbers", () => {
  const doc = parseIni("[a]\nx = 1\nx = 2\n[a]\ny = 1\ny = 2\n");
  assert.deepEqual(doc.problems, [
    'line 3: key "x" appears twice in section [a] (first on line 2)',
    "line 4: section [a] appears twice",
    'line 6: key "y" appears twice in section [a] (first on line 5)',
  ]);
});

Deno.test("parseIni() reports a key before any section and a line without a delimiter, without quoting it", () => {
  const doc = parseIni("x = 1\n[a]\nmq_password hunter2\n");
  assert.deepEqual(doc.problems, [
    'line 1: "x" comes before any [section] header',
    'line 3: expected "key = value" or "[section]"',
  ]);
  assert.ok(!doc.problems.join().includes("hunter2"));
});

Deno.test("resolveSection() marks [DEFAULT]'s keys as inherited and gives a missing section [DEFAULT] alone", () => {
  const doc = parseIni("[DEFAULT]\nport = 5672\n[aws_mq]\nmq_url = x\n");
  const mq = resolveSection(doc, "aws_mq");
  assert.deepEqual(mq.get("mq_url"), { value: "x", line: 4, inherited: false });
  assert.deepEqual(mq.get("port"), { value: "5672", line: 2, inherited: true });
  assert.deepEqual([...resolveSection(doc, "absent").keys()], ["port"]);
});

Deno.test("resolveSection() names a bad % without showing the value", () => {
  const doc = parseIni("[aws_mq]\nmq_password = se%cret\nother = %(missing)s\n");
  const resolved = resolveSection(doc, "aws_mq");
  assert.equal(resolved.get("mq_password")?.value, null);
  assert.match(resolved.get("mq_password")!.error!, /^"%" must be followed by "%" or "\(name\)s"/);
  assert.match(resolved.get("other")!.error!, /^"%\(missing\)s" refers to a key that does not exist/);
  assert.ok(![...resolved.values()].some((e) => e.error?.includes("se%cret")));
});
