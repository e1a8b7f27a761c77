import assert from "node:assert/strict";
import { interpolateIni, parseIni } from "../lib/ini.ts";

function values(text: string): Record<string, Record<string, string>> {
  const doc = interpolateIni(parseIni(text));
  assert.deepEqual(doc.problems, []);
  return Object.fromEntries(
    [...doc.sections].map((
      [name, entries],
    ) => [name, Object.fromEntries([...entries].map(([k, e]) => [k, e.value]))]),
  );
}

Deno.test("parseIni() reads key = value and key: value, trimming around them", () => {
  assert.deepEqual(values("[a]\nx = 1\ny:2\nz =  spaced value  \n"), {
    a: { x: "1", y: "2", z: "spaced value" },
  });
});

Deno.test("parseIni() skips # and ; comment lines but keeps ; and # inside values", () => {
  assert.deepEqual(values("# top\n[a]\n; note\n  # indented comment\nx = a;b#c\n"), { a: { x: "a;b#c" } });
});

Deno.test("parseIni() lowercases keys and keeps section names as written", () => {
  assert.deepEqual(values("[Ws_API]\nClient_ID = abc\n"), { Ws_API: { client_id: "abc" } });
});

Deno.test("parseIni() joins indented continuation lines with newlines", () => {
  assert.deepEqual(values("[a]\nx = first\n  second\n\n  third\ny = 2\n"), {
    a: { x: "first\nsecond\n\nthird", y: "2" },
  });
});

Deno.test("parseIni() accepts CRLF line ends, a BOM and empty values", () => {
  assert.deepEqual(values("\uFEFF[a]\r\nx = 1\r\nempty =\r\n"), { a: { x: "1", empty: "" } });
});

Deno.test("parseIni() reports duplicate sections and keys with their line numbers", () => {
  const doc = parseIni("[a]\nx = 1\nx = 2\n[a]\n");
  assert.deepEqual(doc.problems, [
    'line 3: key "x" appears twice in section [a]',
    "line 4: section [a] appears twice",
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

Deno.test("interpolateIni() resolves %% and %(key)s like configparser's BasicInterpolation", () => {
  assert.deepEqual(
    values("[DEFAULT]\nhost = example.com\n[a]\nname = q\nurl = %(host)s/%(name)s\npct = 100%%\n"),
    {
      DEFAULT: { host: "example.com" },
      a: { name: "q", url: "example.com/q", pct: "100%" },
    },
  );
});

Deno.test("interpolateIni() names the key of a bad % without showing the value", () => {
  const doc = interpolateIni(parseIni("[aws_mq]\nmq_password = se%cret\nother = %(missing)s\n"));
  assert.equal(doc.problems.length, 2);
  assert.match(
    doc.problems[0]!,
    /^line 2: \[aws_mq\] mq_password: "%" must be followed by "%" or "\(name\)s"/,
  );
  assert.match(
    doc.problems[1]!,
    /^line 3: \[aws_mq\] other: "%\(missing\)s" refers to a key that does not exist/,
  );
  assert.ok(!doc.problems.join().includes("se%cret"));
});
