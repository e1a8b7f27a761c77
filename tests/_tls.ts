/**
 * Test fixture: TLS in front of the plain local broker, the way Amazon MQ
 * speaks it (amqps). A throwaway CA and a server certificate for `localhost`
 * are made with `openssl` in a temporary directory at test time, and a small
 * TLS-terminating forwarder (Deno.listenTls -> Deno.connect) passes the
 * decrypted bytes to the broker.
 */

/** A CA and a certificate it signed for localhost / 127.0.0.1; dispose removes the directory. */
export interface TestPki extends AsyncDisposable {
  dir: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Makes a fresh CA and a `localhost` server certificate signed by it. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "mq2wsbridge-tls-" });
  const remove = () => Deno.remove(dir, { recursive: true });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await openssl(dir, [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "1",
      "-subj",
      "/CN=mq2wsbridge throwaway test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await openssl(dir, [
      "req",
      ...ec,
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=localhost",
    ]);
    await Deno.writeTextFile(
      `${dir}/server.ext`,
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    );
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "1",
      "-extfile",
      "server.ext",
    ]);
    const [caPem, certPem, keyPem] = await Promise.all(
      ["ca.pem", "server.pem", "server.key"].map((f) => Deno.readTextFile(`${dir}/${f}`)),
    ) as [string, string, string];
    return { dir, caPem, certPem, keyPem, [Symbol.asyncDispose]: remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** `await using tls = startTlsForwarder(pki, 5672)`; listens on 127.0.0.1, port 0. */
export class TlsForwarder implements AsyncDisposable {
  readonly #listener: Deno.TlsListener;
  readonly #target: number;
  readonly #conns = new Set<Deno.Conn>();
  readonly #pipes = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  /** TLS handshakes that failed (the client did not trust the certificate, ...). */
  readonly handshakeErrors: string[] = [];
  #handshakeWaiters: (() => void)[] = [];

  constructor(pki: TestPki, targetPort: number) {
    this.#target = targetPort;
    this.#listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: pki.certPem, key: pki.keyPem });
    this.#accepting = this.#accept();
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  /** Resolves once `n` TLS handshakes have failed. */
  handshakeFailures(n: number): Promise<void> {
    if (this.handshakeErrors.length >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => this.handshakeErrors.length >= n ? resolve() : this.#handshakeWaiters.push(check);
      this.#handshakeWaiters.push(check);
    });
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        const pipe = this.#serve(client);
        this.#pipes.add(pipe);
        pipe.finally(() => this.#pipes.delete(pipe));
      }
    } catch {
      // listener closed
    }
  }

  async #serve(client: Deno.TlsConn): Promise<void> {
    this.#conns.add(client);
    try {
      await client.handshake();
    } catch (err) {
      this.handshakeErrors.push((err as Error).message);
      for (const wake of this.#handshakeWaiters.splice(0)) wake();
      this.#drop(client);
      return;
    }
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      this.#drop(client);
      return;
    }
    this.#conns.add(upstream);
    await Promise.all([pipe(client, upstream), pipe(upstream, client)]);
    this.#drop(client);
    this.#drop(upstream);
  }

  #drop(conn: Deno.Conn): void {
    this.#conns.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of [...this.#conns]) this.#drop(conn);
    await Promise.all(this.#pipes);
  }
}

/** Starts a TLS forwarder to 127.0.0.1:`targetPort` with the PKI's server certificate. */
export function startTlsForwarder(pki: TestPki, targetPort: number): TlsForwarder {
  return new TlsForwarder(pki, targetPort);
}

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      for (let off = 0; off < n;) off += await to.write(buffer.subarray(off, n));
    }
  } catch {
    // the other side went away
  }
  try {
    to.close();
  } catch {
    // already closed
  }
  try {
    from.close();
  } catch {
    // already closed
  }
}
