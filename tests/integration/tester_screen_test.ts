/**
 * bridgetester's full-screen views in a real terminal (tmux): what they
 * show, that they follow a resize, and that the terminal is given back as
 * it was (main screen, cursor shown, same stty modes) after a normal end, a
 * key press and Ctrl-C. Against the real broker and the real stub bridge.
 */
import assert from "node:assert/strict";
import { bridgeValues, writeIni } from "../_bridge.ts";
import { openBroker } from "../_broker.ts";
import { startBridgeProcess, TESTER, TESTER_PERMISSIONS } from "../_tester.ts";
import { HAS_TMUX, openTmux, type TmuxTerminal } from "../_tmux.ts";

const ignore = !HAS_TMUX; // reported as "ignored": install tmux (apt-get install tmux) to run them

function testerCommand(args: string[]): string {
  return [Deno.execPath(), "run", "--no-check", ...TESTER_PERMISSIONS, TESTER, ...args].join(" ");
}

/** The terminal is back to normal: main screen, cursor visible, modes as before. */
async function assertRestored(term: TmuxTerminal, exit: { sttyBefore: string; sttyAfter: string }) {
  assert.equal(await term.display("#{alternate_on}"), "0", "left the alternate screen");
  assert.equal(await term.display("#{cursor_flag}"), "1", "cursor shown");
  assert.equal(exit.sttyAfter, exit.sttyBefore, "terminal modes (echo, canonical input) restored");
}

Deno.test({
  name:
    "bridgetester -g shows a full grid of reconciled cells with the counter and restores the terminal [integration]",
  ignore,
  async fn() {
    await using broker = await openBroker();
    const toWs = await broker.queue("to_ws");
    const fromWs = await broker.queue("from_ws");
    await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
    await using _bridge = await startBridgeProcess(ini.path);
    await using term = await openTmux(testerCommand(["-c", ini.path, "-g", "-n", "50", "-d", "0.01"]));
    const grid = await term.waitForScreen((rows) => rows.some((r) => r.includes("press any key")), "the end");
    assert.equal(grid[0], "[Msgs: 50 of 50]");
    assert.equal(grid[2], "o".repeat(50), "one cell per message, all reconciled");
    assert.match(grid.at(-1)!, /^>> Finished - press any key to exit \| 50 of 50 reconciled in /);
    assert.equal(await term.display("#{alternate_on}"), "1", "drawn on the alternate screen");

    await term.resize(30, 20);
    const narrow = await term.waitForScreen((rows) => rows[2] === "o".repeat(30), "the grid at 30 columns");
    assert.equal(narrow[3], "o".repeat(20));

    await term.keys("q");
    const exit = await term.exit();
    assert.equal(exit.code, 0);
    await assertRestored(term, exit);
    const after = (await term.screen()).join("\n");
    assert.match(after, /^Reconciled {2}50 of 50$/m, "the summary is printed on the main screen");
    assert.doesNotMatch(after, /\[Msgs:/, "the grid is gone");
  },
});

Deno.test({
  name: "bridgetester -g scrolls when there are more messages than cells on the screen [integration]",
  ignore,
  async fn() {
    await using broker = await openBroker();
    const toWs = await broker.queue("to_ws");
    const fromWs = await broker.queue("from_ws");
    await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
    await using _bridge = await startBridgeProcess(ini.path);
    await using term = await openTmux(testerCommand(["-c", ini.path, "-g", "-n", "2000", "-d", "0"]), {
      columns: 40,
      rows: 12,
    });
    const rows = await term.waitForScreen((r) => r.some((line) => line.includes("press any key")), "the end");
    assert.equal(rows[0], "[Msgs: 2000 of 2000]");
    assert.match(rows[1]!, /^rows 43-50 of 50 \| first missing: none/);
    assert.deepEqual(rows.slice(2, 10), Array(8).fill("o".repeat(40)));
    await term.keys("Enter");
    const exit = await term.exit();
    assert.equal(exit.code, 0);
    await assertRestored(term, exit);
  },
});

Deno.test({
  name:
    "bridgetester -v shows the table of sent and received times and the counter, then the JSON [integration]",
  ignore,
  async fn() {
    await using broker = await openBroker();
    const toWs = await broker.queue("to_ws");
    const fromWs = await broker.queue("from_ws");
    await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
    await using _bridge = await startBridgeProcess(ini.path);
    const args = ["-c", ini.path, "-v", "-n", "40", "-d", "0.01", "--json", "-"];
    await using term = await openTmux(testerCommand(args), {
      columns: 90,
      rows: 20,
    });
    const rows = await term.waitForScreen((r) => r.some((line) => line.includes("press any key")), "the end");
    assert.match(rows[0]!, /^\[Msgs: 40 of 40\]/);
    assert.match(rows[1]!, /^Message +Sent At +Received At +Elapsed$/);
    // 16 rows fit: the newest, #25 to #40.
    assert.match(
      rows[2]!,
      /^Test msg #25 \(\d+\.\d{4}\) +\d\d:\d\d:\d\d\.\d{3} +\d\d:\d\d:\d\d\.\d{3} +[\d.]+ m?s$/,
    );
    assert.match(rows[17]!, /^Test msg #40 /);
    assert.match(rows[19]!, /^>> Finished - press any key to exit \| 40 of 40 reconciled in /);
    await term.keys("x");
    const exit = await term.exit();
    assert.equal(exit.code, 0);
    await assertRestored(term, exit);
    assert.match(
      (await term.screen()).join("\n"),
      /"exitStatus": 0\n}/,
      "--json - printed on the main screen",
    );
  },
});

Deno.test({
  name: "bridgetester -v stops on Ctrl-C, restores the terminal and exits 130 [integration]",
  ignore,
  async fn() {
    await using broker = await openBroker();
    const toWs = await broker.queue("to_ws");
    const fromWs = await broker.queue("from_ws");
    await using ini = await writeIni(bridgeValues({ toWs, fromWs }));
    // No bridge: nothing comes back, and 100 messages 0.2 s apart would take 20 s.
    await using term = await openTmux(testerCommand(["-c", ini.path, "-v", "-n", "100", "-d", "0.2"]));
    await term.waitForScreen((r) => r.some((line) => line.startsWith("Test msg #2 ")), "the second message");
    await term.keys("C-c");
    const exit = await term.exit();
    assert.equal(exit.code, 130);
    await assertRestored(term, exit);
    assert.match((await term.screen()).join("\n"), /^Lost {8}\d+ \(and \d+ never sent: interrupted\)$/m);
  },
});

Deno.test({
  name: "bridgetester -g restores the terminal when it fails (broker unreachable) and exits 69",
  ignore,
  async fn() {
    await using ini = await writeIni(
      bridgeValues({ toWs: "unused.to", fromWs: "unused.from", mqUrl: "amqp://guest:guest@127.0.0.1:9" }, {
        "aws_mq.mq_max_connect_attempts": "2",
        "aws_mq.mq_reconnect_delay_secs": "0.5",
      }),
    );
    await using term = await openTmux(testerCommand(["-c", ini.path, "-g"]));
    const exit = await term.exit();
    assert.equal(exit.code, 69);
    await assertRestored(term, exit);
    assert.match((await term.screen()).join("\n"), /Cannot connect to broker .*gave up after 2 attempts/);
  },
});
