/**
 * mq2wsbridge's command line: argument parsing as a pure function, then the
 * real program spawned as a process for exit statuses, signals, shutdown
 * accounting and what its output may (not) contain.
 */
import assert from "node:assert/strict";
import { HELP, parseBridgeArgs, UsageError } from "../../config/bridge_args.ts";
import { VERSION } from "../../lib/version.ts";
import { bridgeValues, spawnBridge, TEST_CLIENT_SECRET, writeIni } from "../_bridge.ts";
import { brokerUser, openBroker } from "../_broker.ts";
import { startProxy } from "../_proxy.ts";
import { startWsServer } from "../_ws_server.ts";
import { startTinyproxy } from "../_tinyproxy.ts";
import { verifyToken } from "../_jwt.ts";
import { rabbitmqctl } from "../../tools/rabbitmqctl.ts";

Deno.test("parseBridgeArgs() has the original's defaults: run forever, mq2wsbridge.ini, WARN and ERROR only", () => {
  assert.deepEqual(parseBridgeArgs([]), {
    runSecs: 0,
    verbose: false,
    debug: false,
    config: "mq2wsbridge.ini",
    ssmRegion: null,
    ssm: false,
    migrateConfig: false,
    websocketStub: false,
    cloudwatchLogs: false,
    cloudwatchMetrics: false,
    checkConfig: false,
    httpListen: null,
    logFormat: null,
    help: false,
    version: false,
  });
});

Deno.test("parseBridgeArgs() reads --http-listen and --log-format, and names the flag in what it refuses", () => {
  const cli = parseBridgeArgs(["--http-listen", "[::1]:9464", "--log-format", "JSON"]);
  assert.deepEqual(cli.httpListen, { hostname: "::1", port: 9464 });
  assert.equal(cli.logFormat, "json");
  assert.throws(
    () => parseBridgeArgs(["--http-listen", "127.0.0.1"]),
    /--http-listen: "127.0.0.1" is not HOST:PORT/,
  );
  assert.throws(
    () => parseBridgeArgs(["--http-listen", "127.0.0.1:70000"]),
    /--http-listen: .* port over 65535/,
  );
  assert.throws(() => parseBridgeArgs(["--log-format", "xml"]), /--log-format: invalid choice "xml"/);
});

Deno.test("parseBridgeArgs() accepts every flag in short, long and combined forms", () => {
  const cli = parseBridgeArgs([
    "--runsecs",
    "30",
    "-vd",
    "-c",
    "x.ini",
    "-r",
    "eu-west-1",
    "-sM",
    "-X",
    "-lm",
  ]);
  assert.equal(cli.runSecs, 30);
  assert.ok(cli.verbose && cli.debug && cli.ssm && cli.migrateConfig && cli.websocketStub);
  assert.ok(cli.cloudwatchLogs && cli.cloudwatchMetrics);
  assert.equal(cli.config, "x.ini");
  assert.equal(cli.ssmRegion, "eu-west-1");
  const long = parseBridgeArgs([
    "--runsecs=5",
    "--verbose",
    "--debug",
    "--config=y.ini",
    "--ssm-region=us-east-2",
    "--ssm",
    "--migrate-config",
    "--websocket-stub",
    "--cloudwatch-logs",
    "--cloudwatch-metrics",
    "--check-config",
  ]);
  assert.ok(long.checkConfig && long.migrateConfig && long.cloudwatchMetrics);
  assert.equal(long.config, "y.ini");
});

Deno.test("parseBridgeArgs() rejects bad input, naming the argument", () => {
  const cases: [string[], RegExp][] = [
    [["--runsecs", "ten"], /--runsecs: invalid value "ten"/],
    [["--runsecs", "-1"], /--runsecs/],
    [["-M"], /-M\/--migrate-config: requires -s\/--ssm/],
    [["-r", "mars"], /-r\/--ssm-region: "mars" is not an AWS region/],
    [["--bogus"], /bogus/],
    [["extra"], /extra/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => parseBridgeArgs(argv), (e) => e instanceof UsageError && message.test(e.message));
  }
});

Deno.test("mq2wsbridge --help lists every flag and exits 0; --version prints the version [integration]", async () => {
  await using help = spawnBridge(["--help"]);
  assert.equal((await help.exit()).code, 0);
  assert.equal(help.output, HELP);
  for (
    const flag of [
      "--runsecs",
      "--verbose",
      "--debug",
      "--config",
      "--ssm-region",
      "--ssm",
      "--migrate-config",
      "--websocket-stub",
      "--cloudwatch-logs",
      "--cloudwatch-metrics",
      "--http-listen",
      "--log-format",
    ]
  ) {
    assert.ok(help.output.includes(flag), flag);
  }
  await using version = spawnBridge(["--version"]);
  assert.equal((await version.exit()).code, 0);
  assert.equal(
    version.output,
    `mq2wsbridge ${VERSION} (commit source, ${Deno.build.target}, deno ${Deno.version.deno})`,
  );
});

Deno.test("mq2wsbridge exits 2 with the usage on a bad command line [integration]", async () => {
  await using bridge = spawnBridge(["--runsecs", "soon"]);
  assert.equal((await bridge.exit()).code, 2);
  assert.match(bridge.output, /^usage: mq2wsbridge/);
  assert.match(bridge.output, /mq2wsbridge: error: argument --runsecs: invalid value "soon"/);
});

Deno.test("mq2wsbridge exits 78 listing every configuration problem, without secrets [integration]", async () => {
  await using ini = await writeIni({
    "ws_api.client_secret": "zz" + TEST_CLIENT_SECRET,
    "aws_mq.mq_url": "amqp://127.0.0.1:5672",
    "aws_mq.mq_port": "abc",
    "aws_mq.mq_qname_to_ws": "a",
  });
  await using bridge = spawnBridge(["-c", ini.path]);
  assert.equal((await bridge.exit()).code, 78);
  assert.match(bridge.output, new RegExp(`Cannot load configuration from ${ini.path}:`));
  for (
    const problem of [
      /ws_api\.client_id: is required/,
      /ws_api\.client_secret: must be a hex string/,
      /aws_mq\.mq_port: "abc" is not a port number/,
      /aws_mq\.mq_qname_from_ws: is required/,
    ]
  ) {
    assert.match(bridge.output, problem);
  }
  assert.ok(!bridge.output.includes(TEST_CLIENT_SECRET), bridge.output);
  await using missing = spawnBridge(["-c", `${ini.dir}/nope.ini`]);
  assert.equal((await missing.exit()).code, 78);
  assert.match(missing.output, /nope\.ini:\n {2}the file does not exist/);
});

Deno.test("mq2wsbridge --check-config validates and exits 0, warning about a world-readable file [integration]", async () => {
  await using ini = await writeIni(bridgeValues({ toWs: "a", fromWs: "b" }), 0o644);
  await using bridge = spawnBridge(["-c", ini.path, "--check-config"]);
  assert.equal((await bridge.exit()).code, 0);
  assert.match(bridge.output, /WARN .*readable by group or others \(mode 0644\)/);
  assert.match(bridge.output, /is valid$/);
});

Deno.test("mq2wsbridge exits 69 when the WebSocket API keeps refusing, saying why [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  server.refuseWith = 403;
  await using ini = await writeIni(
    bridgeValues({ toWs, fromWs, wsUrl: server.url }, { "ws_api.ws_max_connect_attempts": "3" }),
  );
  await using bridge = spawnBridge(["-c", ini.path]);
  assert.equal((await bridge.exit()).code, 69);
  assert.equal(server.requests.length, 3);
  assert.match(bridge.output, /WebSocket connection failed 3 time\(s\).*ws_max_connect_attempts=3/);
  assert.equal(await broker.ready(toWs), 0, "queues declared, nothing consumed");
});

Deno.test("mq2wsbridge exits 77 at once when the broker refuses the login, without printing the password [integration]", async () => {
  await using user = await brokerUser();
  await using ini = await writeIni(
    bridgeValues({
      toWs: "x",
      fromWs: "y",
      mqUrl: `amqp://${user.name}:wrong-${user.password}@127.0.0.1:5672`,
    }, { "aws_mq.mq_max_connect_attempts": "5" }),
  );
  await using bridge = spawnBridge(["-c", ini.path, "-X"]);
  assert.equal((await bridge.exit()).code, 77);
  assert.match(bridge.output, /refused the login: .*ACCESS.REFUSED.*check mq_user_id and mq_password/);
  assert.ok(!/retrying/.test(bridge.output), "a refused login is not retried");
  assert.ok(!bridge.output.includes(user.password), bridge.output);
});

Deno.test("mq2wsbridge exits 78 naming each queue it may not create, in one report [integration]", async () => {
  await using user = await brokerUser({ configure: "^$" });
  const [toWs, fromWs] = [`test.to.${crypto.randomUUID()}`, `test.from.${crypto.randomUUID()}`];
  await using ini = await writeIni(bridgeValues({ toWs, fromWs, mqUrl: user.url }));
  await using bridge = spawnBridge(["-c", ini.path, "-X"]);
  assert.equal((await bridge.exit()).code, 78);
  for (const queue of [toWs, fromWs]) {
    const lines = bridge.lines.filter((line) =>
      line.includes(`Cannot create queue "${queue}": access refused`)
    );
    assert.ok(
      lines.length >= 1 && lines.length <= 2,
      `reported once (and once in the stop line):\n${bridge.output}`,
    );
  }
  assert.ok(!/ WARN /.test(bridge.output), `no warning before the error:\n${bridge.output}`);
});

Deno.test("mq2wsbridge --runsecs stops by itself and exits 0 [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using bridge = spawnBridge(["-c", ini.path, "-X", "-v", "--runsecs", "1"]);
  assert.equal((await bridge.exit()).code, 0);
  assert.match(bridge.output, /Stopped$/);
  assert.doesNotMatch(bridge.output, /HTTP endpoint/, "no http_listen, no --http-listen: nothing listens");
});

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  Deno.test(`mq2wsbridge on ${signal} while messages flow exits 0 with every message delivered or back in its queue [integration]`, async () => {
    await using broker = await openBroker();
    const toWs = await broker.queue("to_ws");
    const fromWs = await broker.queue("from_ws");
    await using server = startWsServer();
    await using ini = await writeIni(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
    await using bridge = spawnBridge(["-c", ini.path, "-v"]);
    await bridge.waitForLine(/Bridging/);
    const sent = Array.from({ length: 5000 }, (_, i) => `m-${i}`);
    await broker.publish(toWs, sent);
    await server.receivedCount(500);
    bridge.kill(signal);
    assert.equal((await bridge.exit()).code, 0, bridge.output);
    assert.match(bridge.output, new RegExp(`${signal} received; shutting down`));
    const reached = new Set(server.received.map(String));
    const requeued = (await broker.drain(toWs)).map((m) => m.text);
    const missing = sent.filter((body) => !reached.has(body) && !requeued.includes(body));
    assert.deepEqual(missing, [], "every message reached the WebSocket or is back in to_ws");
    const published = new Set((await broker.drain(fromWs)).map((m) => m.text));
    assert.deepEqual(
      [...reached].filter((body) => !published.has(body)),
      [],
      "every reply the bridge got was published",
    );
  });
}

Deno.test("mq2wsbridge -v -d never logs the broker password, the client secret or the token [integration]", async () => {
  await using user = await brokerUser();
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  await using proxy = startProxy(Number(new URL(server.url).port));
  await using ini = await writeIni(
    bridgeValues({ toWs, fromWs, wsUrl: `ws://127.0.0.1:${proxy.port}`, mqUrl: user.url }),
  );
  await using bridge = spawnBridge(["-c", ini.path, "-v", "-d"]);
  await bridge.waitForLine(/Bridging/);
  await broker.publish(toWs, ["hello"]);
  await broker.collect(fromWs, 1);
  await bridge.waitForLine(/DEBUG .*Received from WebSocket/);
  proxy.cutAll(); // a reconnect: a second token, and error text from the runtime
  await bridge.waitForLine(/Connected to the WebSocket API conn=2/);
  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0);
  const output = bridge.output;
  assert.match(output, /DEBUG .*Sent to WebSocket/);
  assert.match(output, /WARN .*WebSocket connection lost/);
  assert.equal(server.tokens.length, 2);
  for (
    const secret of [user.password, encodeURIComponent(user.password), TEST_CLIENT_SECRET, ...server.tokens]
  ) {
    assert.ok(!output.includes(secret), `found a secret in:\n${output}`);
  }
  assert.ok(!/jwt=(?!\*\*\*)/.test(output));
});

Deno.test("mq2wsbridge -d logs one line per message bridged each way, with tag or id and the body's start [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  await using ini = await writeIni(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
  const long = "L".repeat(300);
  for (const stub of [false, true]) {
    await using bridge = spawnBridge(["-c", ini.path, "-v", "-d", ...(stub ? ["-X"] : [])]);
    await bridge.waitForLine(/Bridging/);
    await broker.publish(toWs, ["tab\there", long, new Uint8Array([0, 1, 0xff])], {
      contentType: "text/plain",
    });
    await broker.collect(fromWs, 3);
    const lines = () => bridge.lines.filter((l) => / DEBUG /.test(l));
    const out = stub ? /Forwarded to the from_ws queue \(stub mode\)/ : /Sent to WebSocket/;
    bridge.kill("SIGTERM");
    assert.equal((await bridge.exit()).code, 0);
    const sent = lines().filter((l) => out.test(l));
    assert.equal(sent.length, 3, `one line per to_ws message:\n${bridge.output}`);
    assert.match(
      sent[0]!,
      new RegExp(`queue=${toWs.replaceAll(".", "\\.")} tag=1 bytes=8 text=true body="tab\\\\there"`),
    );
    assert.match(sent[1]!, /bytes=300 text=true body=L{200}…/);
    assert.match(sent[2]!, /bytes=3 text=false body=hex:0001ff/);
    if (!stub) {
      const received = lines().filter((l) => /Received from WebSocket/.test(l));
      assert.equal(received.length, 3, "one line per from_ws message");
      assert.match(received[0]!, /message_id=mq2wsbridge-[0-9a-f]{8}-1 bytes=8 text=true body="tab\\there"/);
    }
  }
});

Deno.test("mq2wsbridge --runsecs 2592000 (30 days, over setTimeout's 24.8-day limit) keeps bridging [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  await using bridge = spawnBridge(["-c", ini.path, "-X", "-v", "--runsecs", "2592000"]);
  await bridge.waitForLine(/Bridging/);
  await broker.publish(toWs, ["still running"]);
  assert.deepEqual((await broker.collect(fromWs, 1)).map((m) => m.text), ["still running"]);
  assert.doesNotMatch(bridge.output, /shutting down|Stopped|TimeoutOverflow/);
  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0, bridge.output);
  for (const nonsense of ["1.5", "1e3", "-5", "", "99999999999999999999", "30d"]) {
    await using bad = spawnBridge(["--runsecs", nonsense, "-c", ini.path]);
    assert.equal((await bad.exit()).code, 2, `--runsecs "${nonsense}": ${bad.output}`);
    assert.match(bad.output, /error: .*--runsecs/);
  }
});

for (const noDelay of ["true", "false"]) {
  Deno.test(`mq2wsbridge connects to api_host + api_uri when api_host has a path, with the original's claims (ws_no_delay=${noDelay}) [integration]`, async () => {
    await using broker = await openBroker();
    const toWs = await broker.queue("to_ws");
    const fromWs = await broker.queue("from_ws");
    await using server = startWsServer();
    const apiHost = `${server.url}/prod`;
    await using ini = await writeIni(
      bridgeValues({ toWs, fromWs, wsUrl: apiHost }, {
        "ws_api.api_uri": "/bridge?v=2",
        "ws_api.ws_no_delay": noDelay, // true: through the relay, which takes only the host from api_host
      }),
    );
    await using bridge = spawnBridge(["-c", ini.path, "-v"]);
    await bridge.waitForLine(/Bridging/);
    await broker.publish(toWs, ["through the stage"]);
    assert.deepEqual((await broker.collect(fromWs, 1)).map((m) => m.text), ["through the stage"]);
    const request = server.requests[0]!;
    assert.equal(request.pathname, "/prod/bridge");
    assert.equal(request.searchParams.get("v"), "2");
    const { claims } = await verifyToken(server.tokens[0]!, TEST_CLIENT_SECRET);
    assert.equal(claims.host, apiHost);
    assert.equal(claims.path, "/bridge?v=2");
    bridge.kill("SIGTERM");
    assert.equal((await bridge.exit()).code, 0, bridge.output);
  });
}

Deno.test("mq2wsbridge logs in with an mq_password holding non-ASCII, %, @, :, / and spaces [integration]", async () => {
  const name = `test-user-${crypto.randomUUID().slice(0, 8)}`;
  const password = `pässwörd-€-日本 p%zz@:/ ?#&=+${crypto.randomUUID().slice(0, 8)}`;
  await rabbitmqctl(["add_user", name, password]);
  try {
    await rabbitmqctl(["set_permissions", "-p", "/", name, ".*", ".*", ".*"]);
    await using broker = await openBroker();
    const toWs = await broker.queue("to_ws");
    const fromWs = await broker.queue("from_ws");
    // In the INI file "%%" is one "%" (configparser's rule).
    await using ini = await writeIni(bridgeValues({ toWs, fromWs, mqUrl: "amqp://127.0.0.1:5672" }, {
      "aws_mq.mq_user_id": name,
      "aws_mq.mq_password": password.replaceAll("%", "%%"),
      "aws_mq.mq_max_connect_attempts": "1",
    }));
    await using bridge = spawnBridge(["-c", ini.path, "-X", "-v"]);
    await bridge.waitForLine(/Bridging/);
    await broker.publish(toWs, ["logged in"]);
    assert.deepEqual((await broker.collect(fromWs, 1)).map((m) => m.text), ["logged in"]);
    bridge.kill("SIGTERM");
    assert.equal((await bridge.exit()).code, 0, bridge.output);
    assert.ok(!bridge.output.includes(password) && !bridge.output.includes(encodeURIComponent(password)));
  } finally {
    await rabbitmqctl(["delete_user", name]);
  }
});

Deno.test("mq2wsbridge reaches the WebSocket API through HTTP_PROXY from its environment (tinyproxy) [integration]", async () => {
  await using tiny = await startTinyproxy();
  await using broker = await openBroker();
  const toWs = await broker.queue("to_ws");
  const fromWs = await broker.queue("from_ws");
  await using server = startWsServer();
  await using ini = await writeIni(bridgeValues({ toWs, fromWs, wsUrl: server.url }));
  await using bridge = spawnBridge(["-c", ini.path, "-v"], { HTTP_PROXY: tiny.url, NO_PROXY: "" });
  await bridge.waitForLine(/Bridging/);
  await broker.publish(toWs, ["via proxy"]);
  assert.deepEqual((await broker.collect(fromWs, 1)).map((m) => m.text), ["via proxy"]);
  assert.ok((await tiny.requests()).includes(`CONNECT 127.0.0.1:${new URL(server.url).port}`));
  bridge.kill("SIGTERM");
  assert.equal((await bridge.exit()).code, 0);
});

Deno.test("mq2wsbridge --check-config exits 78 for a proxy variable it cannot use, naming it, not its password [integration]", async () => {
  await using ini = await writeIni(
    bridgeValues({ toWs: "to", fromWs: "from", wsUrl: "wss://api.example.com" }),
  );
  await using bridge = spawnBridge(["-c", ini.path, "--check-config"], {
    HTTPS_PROXY: "https://user:proxy-secret@proxy.corp:3128",
  });
  assert.equal((await bridge.exit()).code, 78);
  assert.match(bridge.output, /HTTPS_PROXY: only http:\/\/ proxies are supported/);
  assert.ok(!bridge.output.includes("proxy-secret"), bridge.output);
});
