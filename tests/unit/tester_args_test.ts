/** bridgetester's command line: defaults, every flag, and the usage errors (pure, no services). */
import assert from "node:assert/strict";
import { parseTesterArgs, UsageError } from "../../tester/args.ts";

Deno.test("parseTesterArgs() defaults to the original's values", () => {
  assert.deepEqual(parseTesterArgs([]), {
    view: "plain",
    count: 8,
    delaySecs: 1,
    exclusive: false,
    endDelaySecs: 30,
    report: null,
    focused: false,
    quiet: false,
    config: "mq2wsbridge.ini",
    ssm: false,
    ssmRegion: null,
    json: null,
    maxP99Ms: null,
    size: null,
    help: false,
    version: false,
  });
});

Deno.test("parseTesterArgs() takes --size in bytes, up to what a WebSocket frame may hold", () => {
  assert.equal(parseTesterArgs(["--size", "16384"]).size, 16384);
  for (const bad of ["0", "1.5", "-3", "67108865"]) {
    assert.throws(
      () => parseTesterArgs(["--size", bad]),
      (e) => e instanceof UsageError && /--size/.test(e.message),
    );
  }
});

Deno.test("parseTesterArgs() reads every flag by its short and long name", () => {
  const short = parseTesterArgs([
    "-v",
    "-n",
    "5",
    "-d",
    "0.25",
    "-x",
    "-e",
    "3",
    "-r",
    "r.txt",
    "-f",
    "-c",
    "a.ini",
    "-q",
  ]);
  const long = parseTesterArgs([
    "--visual",
    "--number=5",
    "--delay",
    "0.25",
    "--exclusive",
    "--end-delay",
    "3",
    "--report",
    "r.txt",
    "--focused",
    "--config",
    "a.ini",
    "--quiet",
  ]);
  for (const cli of [short, long]) {
    assert.equal(cli.view, "table");
    assert.equal(cli.count, 5);
    assert.equal(cli.delaySecs, 0.25);
    assert.equal(cli.exclusive, true);
    assert.equal(cli.endDelaySecs, 3);
    assert.equal(cli.report, "r.txt");
    assert.equal(cli.focused, true);
    assert.equal(cli.config, "a.ini");
    assert.equal(cli.quiet, true);
  }
  assert.equal(parseTesterArgs(["-g"]).view, "grid");
  assert.equal(parseTesterArgs(["--graph"]).view, "grid");
  assert.equal(parseTesterArgs(["--json", "-"]).json, "-");
  assert.equal(parseTesterArgs(["--max-p99", "12.5"]).maxP99Ms, 12.5);
  assert.equal(parseTesterArgs(["-h"]).help, true);
  assert.equal(parseTesterArgs(["--version"]).version, true);
});

Deno.test("parseTesterArgs() reads -s/--ssm and --ssm-region like mq2wsbridge; -r stays the report file", () => {
  for (const argv of [["-s", "--ssm-region", "eu-west-1"], ["--ssm", "--ssm-region=eu-west-1"]]) {
    const cli = parseTesterArgs([...argv, "-r", "r.txt"]);
    assert.equal(cli.ssm, true);
    assert.equal(cli.ssmRegion, "eu-west-1");
    assert.equal(cli.report, "r.txt");
  }
  assert.throws(
    () => parseTesterArgs(["-s", "--ssm-region", "mars"]),
    (e) => e instanceof UsageError && /--ssm-region: "mars" is not an AWS region/.test(e.message),
  );
});

Deno.test("parseTesterArgs() accepts a delay of 0 and fractions of a second", () => {
  assert.equal(parseTesterArgs(["-d", "0"]).delaySecs, 0);
  assert.equal(parseTesterArgs(["-d0"]).delaySecs, 0);
  assert.equal(parseTesterArgs(["-d", "0.005"]).delaySecs, 0.005);
  assert.equal(parseTesterArgs(["-d", ".5"]).delaySecs, 0.5);
  assert.equal(parseTesterArgs(["-e", "0"]).endDelaySecs, 0);
});

Deno.test("parseTesterArgs() rejects -v with -g, naming both", () => {
  assert.throws(() => parseTesterArgs(["-v", "-g"]), (err: Error) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, /-g\/--graph: not allowed with argument -v\/--visual/);
    return true;
  });
  assert.throws(() => parseTesterArgs(["-vg"]), UsageError);
});

Deno.test("parseTesterArgs() names the flag and the value it rejects", () => {
  const cases: [string[], RegExp][] = [
    [["-n", "0"], /-n\/--number: invalid value "0"/],
    [["-n", "2.5"], /-n\/--number: invalid int value: "2.5"/],
    [["-n", "lots"], /-n\/--number: invalid int value: "lots"/],
    [["-n", "10000001"], /expected 1 to 10000000/],
    [["-d", "-1"], /-d/],
    [["-d=-1"], /-d\/--delay: invalid value "=-1"/],
    [["--delay=-1"], /-d\/--delay: invalid value "-1"/],
    [["-d", "soon"], /-d\/--delay: invalid value "soon"/],
    [["-e", "1e3"], /-e\/--end-delay: invalid value "1e3"/],
    [["--max-p99", "0"], /--max-p99: invalid value "0"/],
    [["-r", ""], /-r\/--report: expected a file name/],
    [["--nope"], /Unknown option '--nope'/],
    [["stray"], /Unexpected argument 'stray'/],
  ];
  for (const [argv, pattern] of cases) {
    assert.throws(() => parseTesterArgs(argv), (err: Error) => {
      assert.ok(err instanceof UsageError, argv.join(" "));
      assert.match(err.message, pattern, argv.join(" "));
      return true;
    });
  }
});
