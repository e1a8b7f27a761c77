/**
 * bridgetester end to end: the real CLI as a process, the real broker, the
 * real bridge (stub mode, or through a WebSocket echo server on loopback).
 * Each test has its own queues, deleted at the end.
 */
import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { BridgeProcess, bridgeValues, writeIni } from "../_bridge.ts";
import { brokerUser, closeConnectionsNamed, openBroker } from "../_broker.ts";
import { runTesterCli, startBridgeProcess, TESTER } from "../_tester.ts";
import { startWsServer } from "../_ws_server.ts";

const BODY = /^Test msg #(\d+) \((\d+)\.(\d{4})\)$/;

Deno.test("bridgetester reconciles every message through the bridge in stub mode and exits 0 [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using _bridge = await startBridgeProcess(ini.path);
  const json = `${ini.dir}/summary.json`;
  const out = await runTesterCli(["-c", ini.path, "-n", "300", "-d", "0", "-e", "20", "--json", json]);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.match(out.stdout, /^Reconciled {2}300 of 300$/m);
  assert.match(
    out.stdout,
    /^Latency ms {2}min [\d.]+ {2}p50 [\d.]+ {2}p95 [\d.]+ {2}p99 [\d.]+ {2}max [\d.]+$/m,
  );
  assert.match(out.stdout, /^>>> \S+ sent Test msg #1 \(\d+\.\d{4}\)$/m, "a line per send");
  assert.match(
    out.stdout,
    /^<<< \S+ back Test msg #300 \(\d+\.\d{4}\) in [\d.]+ m?s$/m,
    "a line per receipt",
  );
  const summary = JSON.parse(await Deno.readTextFile(json));
  assert.equal(summary.requested, 300);
  assert.equal(summary.sent, 300);
  assert.equal(summary.confirmed, 300);
  assert.equal(summary.reconciled, 300);
  assert.equal(summary.lost, 0);
  assert.equal(summary.duplicates, 0);
  assert.equal(summary.latencyMs.count, 300);
  assert.ok(summary.latencyMs.min <= summary.latencyMs.p50 && summary.latencyMs.p99 <= summary.latencyMs.max);
  assert.equal(summary.exitStatus, 0);
  assert.deepEqual([summary.toWs, summary.fromWs], [toWs, fromWs]);
  assert.equal(await broker.ready(toWs), 0);
  assert.equal(await broker.ready(fromWs), 0, "every reply consumed");
});

Deno.test("bridgetester reports every message lost when no bridge runs, after the end delay [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  const report = `${ini.dir}/report.txt`;
  const started = performance.now();
  const out = await runTesterCli(["-c", ini.path, "-n", "5", "-d", "0", "-e", "1.5", "-r", report]);
  const secs = (performance.now() - started) / 1000;
  assert.equal(out.code, 1, out.stdout + out.stderr);
  assert.ok(secs >= 1.5, `waited the end delay: ${secs.toFixed(2)} s`);
  assert.match(out.stdout, /^Number of messages reconciled: 0 of 5$/m);
  assert.match(out.stdout, /^Lost {8}5$/m);
  // What is left behind, and how to clear it: they would go to the WebSocket API once a bridge starts.
  assert.match(
    out.stdout,
    new RegExp(
      `^Left on the broker: 5 test messages of this run did not come back\\. Each is still on queue "${toWs}"`,
      "m",
    ),
  );
  assert.match(
    out.stdout,
    /expires 5 min after it was sent \(a bridge started before then sends it to the WebSocket API\)/,
  );
  assert.match(
    out.stdout,
    new RegExp(`To clear them: .*rabbitmqctl purge_queue ${toWs.replaceAll(".", "\\.")} `),
  );
  assert.match(out.stdout, new RegExp(`bridgetester -c ${ini.path} -x -n 1`));
  const lines = (await Deno.readTextFile(report)).split("\n");
  assert.equal(lines.pop(), "", "one message per line, newline-terminated");
  assert.deepEqual(lines.map((line) => BODY.exec(line)?.[1]), ["1", "2", "3", "4", "5"]);
  const sent = await broker.drain(toWs);
  assert.deepEqual(sent.map((m) => m.text), lines, "the unreconciled ones are the ones sent");
  for (const message of sent) {
    assert.equal(message.properties.expiration, "300000");
    assert.equal(message.properties.contentType, "text/plain");
  }
});

Deno.test("bridgetester leaves a message that is not its own in the queue, without spinning on it [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await broker.publish(fromWs, ["for another consumer"]);
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using _bridge = await startBridgeProcess(ini.path);
  const json = `${ini.dir}/summary.json`;
  const out = await runTesterCli(["-c", ini.path, "-n", "4", "-d", "0.5", "-e", "10", "--json", json]);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.match(out.stdout, /not ours, handed back: for another consumer/);
  assert.match(
    out.stdout,
    new RegExp(
      `^Left on the broker: 1 message on queue "${fromWs}" was not this run's and was handed back`,
      "m",
    ),
  );
  assert.doesNotMatch(out.stdout, /test messages? of this run did not come back/, "all of ours came back");
  const summary = JSON.parse(await Deno.readTextFile(json));
  assert.equal(summary.reconciled, 4);
  assert.equal(summary.foreign.consumed, 0);
  assert.equal(summary.foreign.rejected, summary.foreign.deliveries, "each delivery handed back");
  // The run lasts about 1.5 s as the only consumer: a hot loop would see it thousands of times.
  assert.ok(
    summary.foreign.deliveries >= 1 && summary.foreign.deliveries <= 15,
    `${summary.foreign.deliveries}`,
  );
  assert.deepEqual((await broker.drain(fromWs)).map((m) => m.text), ["for another consumer"]);
});

Deno.test("two bridgetesters on the same queues each reconcile all their own messages [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using _bridge = await startBridgeProcess(ini.path);
  const args = (name: string) => [
    "-c",
    ini.path,
    "-q",
    "-n",
    "300",
    "-d",
    "0.002",
    "-e",
    "30",
    "--json",
    `${ini.dir}/${name}.json`,
  ];
  // Competing consumers: about half of each one's replies reach the other first and are handed back.
  const [a, b] = await Promise.all([runTesterCli(args("a")), runTesterCli(args("b"))]);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  for (const name of ["a", "b"]) {
    const summary = JSON.parse(await Deno.readTextFile(`${ini.dir}/${name}.json`));
    assert.equal(summary.reconciled, 300, name);
    assert.equal(summary.foreign.consumed, 0, name);
    assert.equal(summary.foreign.rejected, summary.foreign.deliveries, name);
  }
  assert.equal(await broker.ready(fromWs), 0, "nothing left behind");
});

Deno.test("bridgetester -x consumes a message that is not its own [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await broker.publish(fromWs, ["stale test message"]);
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using _bridge = await startBridgeProcess(ini.path);
  const json = `${ini.dir}/summary.json`;
  const out = await runTesterCli(["-c", ini.path, "-x", "-n", "3", "-d", "0", "-e", "10", "--json", json]);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.match(out.stdout, /not ours, consumed \(-x\): stale test message/);
  const summary = JSON.parse(await Deno.readTextFile(json));
  assert.deepEqual(summary.foreign, { deliveries: 1, rejected: 0, consumed: 1, handedBack: 0 });
  assert.doesNotMatch(out.stdout, /Left on the broker/, "-x consumed it: nothing left");
  assert.equal(await broker.ready(fromWs), 0);
});

Deno.test("bridgetester -f leaves out the messages that are not its own [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await broker.publish(fromWs, ["someone else's"]);
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using _bridge = await startBridgeProcess(ini.path);
  const out = await runTesterCli(["-c", ini.path, "-f", "-n", "2", "-d", "0.2", "-e", "10"]);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.doesNotMatch(out.stdout, /not ours,/);
  assert.match(out.stdout, /back Test msg #2/);
});

Deno.test("bridgetester reconciles through a WebSocket echo endpoint [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  await using ini = await writeIni(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
  await using _bridge = await startBridgeProcess(ini.path, { stub: false });
  const out = await runTesterCli(["-c", ini.path, "-q", "-n", "200", "-d", "0", "-e", "20", "--json", "-"]);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  const summary = JSON.parse(out.stdout);
  assert.equal(summary.reconciled, 200);
  assert.equal(summary.sent, 200);
  assert.match(out.stderr, /^Reconciled {2}200 of 200$/m, "the human summary goes to stderr with --json -");
  assert.doesNotMatch(out.stderr, /^>>> /m, "-q: no line per message");
  assert.ok(server.received.length >= 200, "every message crossed the WebSocket");
});

Deno.test("bridgetester reconnects when the broker drops its connection and still reconciles every message [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using _bridge = await startBridgeProcess(ini.path);
  // 8 s of sending, so the run is still going when rabbitmqctl (slow to start) closes the connection.
  await using tester = new BridgeProcess(
    ["-c", ini.path, "-q", "-n", "8000", "-d", "0.001", "-e", "30"],
    { program: TESTER },
  );
  await tester.waitForLine(/^\[ +1 s\] sent/);
  assert.equal(
    await closeConnectionsNamed(`bridgetester@${Deno.hostname()} pid ${tester.pid}`),
    1,
    "the tester's own connection, closed broker-side",
  );
  await tester.waitForLine(/Lost the broker connection; reconnecting/);
  const status = await tester.exit(60_000);
  assert.equal(status.code, 0, tester.output);
  assert.match(tester.output, /^Reconciled {2}8000 of 8000$/m);
});

Deno.test("bridgetester exits 74 when it cannot write the JSON summary [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  const out = await runTesterCli([
    "-c",
    ini.path,
    "-n",
    "1",
    "-e",
    "0",
    "--json",
    `${ini.dir}/no/such/dir.json`,
  ]);
  assert.equal(out.code, 74, out.stdout + out.stderr);
  assert.match(out.stderr, /cannot write the results: .*no\/such\/dir\.json/);
});

Deno.test("bridgetester exits 69 when the broker cannot be reached", async () => {
  await using ini = await writeIni(
    bridgeValues({ toWs: "unused.to", fromWs: "unused.from", mqUrl: "amqp://guest:guest@127.0.0.1:9" }, {
      "aws_mq.mq_max_connect_attempts": "1",
    }),
  );
  const out = await runTesterCli(["-c", ini.path, "-n", "1"]);
  assert.equal(out.code, 69, out.stdout + out.stderr);
  assert.match(out.stderr, /Cannot connect to broker amqp:\/\/\S*@127\.0\.0\.1:9: gave up/);
  assert.doesNotMatch(out.stdout + out.stderr, /guest:guest/, "the password never shows");
});

Deno.test("bridgetester exits 78 on a configuration error and names the problem", async () => {
  await using ini = await writeIni({ "aws_mq.mq_url": "amqp://127.0.0.1" });
  const out = await runTesterCli(["-c", ini.path]);
  assert.equal(out.code, 78);
  assert.match(out.stderr, /aws_mq\.mq_qname_to_ws: is required but not set/);
  const missing = await runTesterCli(["-c", `${ini.dir}/absent.ini`]);
  assert.equal(missing.code, 78);
  assert.match(missing.stderr, /does not exist/);
});

Deno.test("bridgetester refuses a full-screen view when standard output is not a terminal", async () => {
  for (const flag of ["-g", "-v"]) {
    const out = await runTesterCli([flag, "-c", "/nonexistent.ini"]);
    assert.equal(out.code, 2, flag);
    assert.match(out.stderr, /standard output is not a terminal/);
    assert.equal(out.stdout, "");
  }
});

Deno.test("bridgetester --help lists the flags and exit statuses; bad flags exit 2", async () => {
  const help = await runTesterCli(["--help"]);
  assert.equal(help.code, 0);
  for (
    const flag of ["--visual", "--number", "--delay", "--exclusive", "--end-delay", "--graph", "--report"]
  ) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  assert.match(help.stdout, /exit status: 0 every message came back; 1 /);
  const both = await runTesterCli(["-v", "-g"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /^usage: bridgetester/m);
  assert.match(both.stderr, /-g\/--graph: not allowed with argument -v\/--visual/);
});

Deno.test("bridgetester --version names the version, the commit (source, run from source), the target and Deno", async () => {
  const version = await runTesterCli(["--version"]);
  assert.equal(version.code, 0);
  assert.equal(version.stderr, "");
  assert.equal(
    version.stdout,
    `bridgetester ${denoJson.version} (commit source, ${Deno.build.target}, deno ${Deno.version.deno})\n`,
  );
});

Deno.test("bridgetester exits 77 when the broker refuses the login, without the password [integration]", async () => {
  await using user = await brokerUser();
  await using ini = await writeIni(
    bridgeValues({
      toWs: "x",
      fromWs: "y",
      mqUrl: `amqp://${user.name}:wrong-${user.password}@127.0.0.1:5672`,
    }),
  );
  const out = await runTesterCli(["-c", ini.path, "-n", "1", "-d", "0", "-e", "1"]);
  assert.equal(out.code, 77, out.stdout + out.stderr);
  assert.match(out.stderr, /refused the login/);
  assert.ok(!(out.stdout + out.stderr).includes(user.password));
});
