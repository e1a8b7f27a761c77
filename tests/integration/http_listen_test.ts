/**
 * A bad HTTP endpoint address, given to the real mq2wsbridge spawned as a
 * process: a usage error (exit 2) for the flag, a configuration error (exit
 * 78) for the INI key or for a port another process holds, each naming
 * where the address came from, and found before the broker is touched.
 */
import assert from "node:assert/strict";
import { bridgeValues, spawnBridge, writeIni } from "../_bridge.ts";
import { openBroker } from "../_broker.ts";
import { startWsServer } from "../_ws_server.ts";

Deno.test("mq2wsbridge --http-listen without a port exits 2 with the usage, naming --http-listen [integration]", async () => {
  for (const value of ["127.0.0.1", "127.0.0.1:99999", ":9464"]) {
    await using bridge = spawnBridge(["--http-listen", value]);
    assert.equal((await bridge.exit()).code, 2, value);
    assert.match(bridge.errorOutput, /^usage: mq2wsbridge/);
    assert.ok(
      bridge.errorOutput.includes(`mq2wsbridge: error: argument --http-listen: "${value}" `),
      bridge.errorOutput,
    );
  }
});

Deno.test("mq2wsbridge exits 78 naming service.http_listen when its value is not HOST:PORT [integration]", async () => {
  for (const value of ["nonsense", "127.0.0.1", "127.0.0.1:65536"]) {
    await using ini = await writeIni(
      bridgeValues({ toWs: "a", fromWs: "b" }, { "service.http_listen": value }),
    );
    await using bridge = spawnBridge(["-c", ini.path, "-X", "-v"]);
    assert.equal((await bridge.exit()).code, 78, value);
    assert.ok(bridge.errorOutput.includes(`Cannot load configuration from ${ini.path}:`), bridge.errorOutput);
    assert.match(
      bridge.errorOutput,
      new RegExp(`service\\.http_listen: "${value}" (is not HOST:PORT|has a port)`),
    );
    assert.ok(!/Connected to broker/.test(bridge.output), bridge.output);
  }
});

/** A port on 127.0.0.1 held by the test (as another process would), free again at dispose. */
function holdPort(): Deno.TcpListener & Disposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return Object.assign(listener, { [Symbol.dispose]: () => listener.close() });
}

for (const from of ["the INI file", "the flag"] as const) {
  Deno.test(`mq2wsbridge exits 78 with the port taken (from ${from}), naming it, before anything is consumed [integration]`, async () => {
    await using broker = await openBroker();
    const toWs = await broker.queue("to_ws");
    const fromWs = await broker.queue("from_ws");
    const queued = Array.from({ length: 5 }, (_, i) => `queued-${i}`);
    await broker.publish(toWs, queued);
    await using server = startWsServer();
    using held = holdPort();
    const taken = `127.0.0.1:${held.addr.port}`;
    // From the flag, the INI's (valid) address is overridden: the flag wins, and is named.
    await using ini = await writeIni(bridgeValues({ toWs, fromWs, wsUrl: server.url }, {
      "service.http_listen": from === "the flag" ? "127.0.0.1:0" : taken,
    }));
    const args = ["-c", ini.path, "-v", ...(from === "the flag" ? ["--http-listen", taken] : [])];
    await using bridge = spawnBridge(args);
    assert.equal((await bridge.exit()).code, 78, bridge.output);
    const [source, key] = from === "the flag"
      ? ["the command line", "--http-listen"]
      : [ini.path, "service.http_listen"];
    assert.ok(bridge.errorOutput.includes(`Cannot load configuration from ${source}:`), bridge.errorOutput);
    assert.ok(
      bridge.errorOutput.includes(`${key}: cannot listen on ${taken}: address already in use`),
      bridge.errorOutput,
    );
    if (from === "the flag") assert.ok(!bridge.output.includes("service.http_listen"), bridge.output);
    assert.ok(
      !/Connected to broker|Bridging/.test(bridge.output),
      `the broker was not touched:\n${bridge.output}`,
    );
    assert.equal(server.requests.length, 0, "nor the WebSocket API");
    assert.equal(await broker.ready(toWs), queued.length, "every queued message is still there");
    const left = await broker.drain(toWs);
    assert.deepEqual(left.map((m) => m.text), queued);
    assert.ok(left.every((m) => !m.redelivered), "none was ever delivered to a consumer");
  });
}

Deno.test("mq2wsbridge exits 78 naming --http-listen for a name that does not resolve or an address not its own [integration]", async () => {
  await using broker = await openBroker();
  const toWs = await broker.queue("listen-addr-to-ws");
  const fromWs = await broker.queue("listen-addr-from-ws");
  await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
  for (
    const [value, reason] of [
      ["nosuchhost.invalid:9464", /lookup/],
      ["192.0.2.1:9464", /not one of this machine's/], // TEST-NET-1: never a local address
    ] as const
  ) {
    await using bridge = spawnBridge(["-c", ini.path, "-X", "-v", "--http-listen", value]);
    assert.equal((await bridge.exit()).code, 78, value);
    assert.ok(bridge.errorOutput.includes(`--http-listen: cannot listen on ${value}: `), bridge.errorOutput);
    assert.match(bridge.errorOutput, reason);
    assert.ok(!/Connected to broker/.test(bridge.output), bridge.output);
  }
});
