/**
 * Test fixture: a real HTTP proxy server, Debian's tinyproxy, on loopback,
 * with its own configuration and log in a temporary directory. The log says
 * which requests went through it (`GET http://...`, `CONNECT host:port`).
 * tinyproxy takes no port 0, so a free port is reserved by binding it and
 * handed over; a lost race is retried.
 */

/** A running tinyproxy. */
export interface TinyProxy extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, for HTTPS_PROXY / HTTP_PROXY. */
  url: string;
  /** Requests it has received so far, e.g. `CONNECT 127.0.0.1:4443`, `POST http://127.0.0.1:5000/`. */
  requests(): Promise<string[]>;
}

/** Starts tinyproxy (`apt-get install -y tinyproxy`) and waits until it accepts connections. */
export async function startTinyproxy(): Promise<TinyProxy> {
  const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-tinyproxy-" });
  const logFile = `${dir}/tinyproxy.log`;
  const failures: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const reserved = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = reserved.addr.port;
    reserved.close();
    // No ConnectPort line: CONNECT is allowed to any port (the test endpoints are not on 443).
    await Deno.writeTextFile(
      `${dir}/tinyproxy.conf`,
      [
        `Port ${port}`,
        "Listen 127.0.0.1",
        "Timeout 30",
        `LogFile "${logFile}"`,
        "LogLevel Connect",
        "MaxClients 20",
        "Allow 127.0.0.1",
        "DisableViaHeader Yes",
      ].join("\n") + "\n",
    );
    const child = new Deno.Command("tinyproxy", {
      args: ["-d", "-c", `${dir}/tinyproxy.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const exited = child.output().then((out) => new TextDecoder().decode(out.stderr));
    const up = await listening(port, exited);
    if (up === true) {
      return {
        url: `http://127.0.0.1:${port}`,
        requests: async () => {
          const log = await Deno.readTextFile(logFile).catch(() => "");
          return [...log.matchAll(/Request \(file descriptor \d+\): (\S+ \S+)/g)].map((m) => m[1]!);
        },
        [Symbol.asyncDispose]: async () => {
          try {
            child.kill("SIGTERM");
          } catch { /* gone */ }
          await exited;
          await Deno.remove(dir, { recursive: true });
        },
      };
    }
    failures.push(up);
  }
  await Deno.remove(dir, { recursive: true });
  throw new Error(`Cannot start tinyproxy (apt-get install -y tinyproxy): ${failures.join("; ")}`);
}

/** True once 127.0.0.1:`port` accepts a connection; the reason when tinyproxy exited first. */
async function listening(port: number, exited: Promise<string>): Promise<true | string> {
  let gone: string | null = null;
  exited.then((stderr) => gone = `exited: ${stderr.trim() || "(no output)"}`);
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    if (gone !== null) return gone;
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch { /* not yet */ }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return "not listening within 10 s";
}
