/**
 * A private RabbitMQ node for the faults that would disturb everyone else on
 * the machine's shared broker (stop_app, a memory alarm). Everything it owns
 * is in one temporary directory: node name, AMQP and distribution ports on
 * 127.0.0.1, database, logs, an empty plugin list and a config file of its
 * own (the system rabbitmq.conf pins the listener to 5672; the system
 * rabbitmq-env.conf names the node, so an empty one is given instead).
 *
 * Start: `rabbitmq-server -detached`, then `rabbitmqctl wait PIDFILE`:
 * measured here 3.5 to 4.5 s on a quiet machine, 5 to 10 s while other
 * tests load its two cores (stop at dispose: about 1 s more; stop_app
 * 0.9 s, start_app 1.2 to 2.5 s). Two runs choose random ports; when
 * the node cannot start (a port taken), it is cleaned up and started again
 * on others. Dispose stops the node (`rabbitmqctl stop`, else SIGKILL of its
 * pid) and removes the directory, whatever happened before.
 */
import { rabbitmqctl } from "../tools/rabbitmqctl.ts";

/** The memory watermark that raises the alarm at once, and the default that clears it. */
const ALARM_WATERMARK = "0.0000001";
const NORMAL_WATERMARK = "0.4";
const START_ATTEMPTS = 3;
const START_TIMEOUT_SECS = 60;

/** `await using node = await PrivateBroker.start()` */
export class PrivateBroker implements AsyncDisposable {
  readonly node: string;
  readonly port: number;
  readonly dir: string;
  /** How long the node took to start, in ms. */
  readonly startMs: number;
  #disposed: Promise<void> | null = null;

  private constructor(node: string, port: number, dir: string, startMs: number) {
    this.node = node;
    this.port = port;
    this.dir = dir;
    this.startMs = startMs;
  }

  /** The node's AMQP URL (the default guest user, allowed on loopback). */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Starts a node on random ports, trying others when it cannot start. */
  static async start(): Promise<PrivateBroker> {
    const errors: string[] = [];
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      // AMQP 20000-29999 and distribution 10000 below: under the kernel's ephemeral range (32768+).
      const port = 20_000 + Math.floor(Math.random() * 10_000);
      const node = `mq2wsbridge-chaos-${crypto.randomUUID().slice(0, 8)}@localhost`;
      const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-chaos-rabbitmq-" });
      const broker = new PrivateBroker(node, port, dir, NaN);
      const started = performance.now();
      try {
        await broker.#launch(port - 10_000);
        return new PrivateBroker(node, port, dir, Math.round(performance.now() - started));
      } catch (err) {
        errors.push(`attempt ${attempt} (port ${port}): ${(err as Error).message}`);
        await broker[Symbol.asyncDispose]();
      }
    }
    throw new Error(`Cannot start a private RabbitMQ node:\n  ${errors.join("\n  ")}`);
  }

  /** `rabbitmqctl -n NODE ARGS`. */
  ctl(args: string[]): Promise<string> {
    return rabbitmqctl(args, { node: this.node });
  }

  /** Stops the RabbitMQ application (the node stays up): the broker is gone for its clients. */
  async stopApp(): Promise<void> {
    await this.ctl(["stop_app"]);
  }

  /** Starts the application again; resolves once it accepts connections. */
  async startApp(): Promise<void> {
    await this.ctl(["start_app"]);
    await this.ctl(["await_startup"]);
  }

  /** Raises (or clears) a memory alarm: publishers are blocked; resolves once the node says so. */
  async alarm(on: boolean): Promise<void> {
    await this.ctl(["set_vm_memory_high_watermark", on ? ALARM_WATERMARK : NORMAL_WATERMARK]);
    const alarms = await this.ctl(["eval", "rabbit_alarm:get_alarms()."]);
    if (alarms.includes("memory") !== on) {
      throw new Error(`Cannot ${on ? "raise" : "clear"} the memory alarm on ${this.node}: alarms ${alarms}`);
    }
  }

  /** Stops the node and removes its directory. Safe to call twice. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#disposed ??= this.#dispose();
  }

  async #launch(distPort: number): Promise<void> {
    const conf = `${this.dir}/rabbitmq.conf`;
    await Deno.writeTextFile(conf, `listeners.tcp.local = 127.0.0.1:${this.port}\n`);
    await Deno.writeTextFile(`${this.dir}/enabled_plugins`, "[].\n");
    await Deno.writeTextFile(`${this.dir}/rabbitmq-env.conf`, "");
    await ownedByRabbitmq(this.dir);
    const env = {
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: `${this.dir}/mnesia`,
      RABBITMQ_LOG_BASE: `${this.dir}/log`,
      RABBITMQ_ENABLED_PLUGINS_FILE: `${this.dir}/enabled_plugins`,
      RABBITMQ_CONFIG_FILE: conf,
      RABBITMQ_CONF_ENV_FILE: `${this.dir}/rabbitmq-env.conf`,
      RABBITMQ_PID_FILE: `${this.dir}/pid`,
      ERL_EPMD_ADDRESS: "127.0.0.1",
      // Distribution (CLI tools) on loopback only, as the machine's own node.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
    };
    const out = await new Deno.Command("rabbitmq-server", {
      args: ["-detached"],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`rabbitmq-server -detached failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    try {
      await this.ctl(["wait", "--timeout", String(START_TIMEOUT_SECS), `${this.dir}/pid`]);
    } catch (err) {
      throw new Error(`${(err as Error).message}${await this.#logTail()}`, { cause: err });
    }
  }

  async #dispose(): Promise<void> {
    const stopped = await this.ctl(["stop"]).then(() => true, () => false);
    if (!stopped) {
      const pid = Number(await Deno.readTextFile(`${this.dir}/pid`).catch(() => ""));
      if (pid > 0) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // not running
        }
      }
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async #logTail(): Promise<string> {
    const log = await Deno.readTextFile(`${this.dir}/log/${this.node}.log`).catch(() => "");
    const tail = log.split("\n").filter((l) => /error|eaddrinuse|fail/i.test(l)).slice(-5);
    return tail.length ? `\n    ${tail.join("\n    ")}` : "";
  }
}

/**
 * The rabbitmq-server and rabbitmqctl wrappers run the node as the rabbitmq
 * user when started by root (so it shares that user's Erlang cookie with
 * rabbitmqctl): its directory must be that user's.
 */
async function ownedByRabbitmq(dir: string): Promise<void> {
  if (Deno.uid() !== 0) return;
  const id = async (flag: string) => {
    const out = await new Deno.Command("id", { args: [flag, "rabbitmq"], stdout: "piped", stderr: "null" })
      .output();
    return out.success ? Number(new TextDecoder().decode(out.stdout)) : NaN;
  };
  const [uid, gid] = [await id("-u"), await id("-g")];
  if (Number.isNaN(uid)) return;
  for await (const entry of Deno.readDir(dir)) await Deno.chown(`${dir}/${entry.name}`, uid, gid);
  await Deno.chown(dir, uid, gid);
}
