/**
 * resolveConfig(): the CA files are read and checked with the values, so a
 * missing, unreadable or non-PEM `mq_ca_file`/`ws_ca_file` is a configuration
 * error reported in the same list as every other problem (what
 * `--check-config` prints), with real files made by openssl.
 */
import assert from "node:assert/strict";
import { ConfigError, type RawConfig } from "../../config/config.ts";
import { readBrokerCa, resolveConfig } from "../../config/secrets.ts";
import { pemCertificatesProblem } from "../../config/pem.ts";
import { makeTestPki } from "../_tls.ts";

const STUB = { ws: false, logs: false, metrics: false };
const WS = { ws: true, logs: false, metrics: false };

function raw(values: Record<string, string>, problems: string[] = []): RawConfig {
  return {
    source: "t.ini",
    problems,
    values: new Map(Object.entries({
      "ws_api.client_id": "id",
      "ws_api.client_secret": "00ff",
      "ws_api.api_host": "wss://api.example.com",
      "ws_api.api_uri": "/ws",
      "aws_mq.mq_url": "amqps://127.0.0.1:5671",
      "aws_mq.mq_qname_to_ws": "to_ws",
      "aws_mq.mq_qname_from_ws": "from_ws",
      ...values,
    })),
  };
}

async function problems(config: RawConfig, needs = WS): Promise<string[]> {
  try {
    await resolveConfig(config, needs);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("resolveConfig() accepts CA files of PEM certificates, a bundle with labels between them included", async () => {
  await using pki = await makeTestPki();
  const bundle = `${pki.dir}/bundle.pem`;
  await Deno.writeTextFile(bundle, `# our CA\n${pki.caPem}\nsubject=CN=localhost\n${pki.certPem}`);
  const config = await resolveConfig(
    raw({ "aws_mq.mq_ca_file": ` ${pki.dir}/ca.pem `, "ws_api.ws_ca_file": bundle }),
    WS,
  );
  assert.equal(config.mq.caFile, `${pki.dir}/ca.pem`);
  assert.equal(await readBrokerCa(config), pki.caPem);
});

Deno.test("resolveConfig() names each CA file that is missing, unreadable, a directory or not certificates", async () => {
  await using pki = await makeTestPki();
  const unreadable = `${pki.dir}/unreadable.pem`;
  await Deno.writeTextFile(unreadable, pki.caPem, { mode: 0o000 });
  await Deno.chmod(unreadable, 0o000);
  const root = Deno.uid() === 0; // root reads a mode 000 file anyway
  const cases: [string, RegExp][] = [
    [`${pki.dir}/missing.pem`, /"[^"]*missing\.pem" does not exist/],
    [pki.dir, /is a directory, not a PEM file/],
    [`${pki.dir}/ca.key`, /holds no certificate, only "PRIVATE KEY"/],
    [`${pki.dir}/server.csr`, /holds no certificate, only "CERTIFICATE REQUEST"/],
    ...(root ? [] : [[unreadable, /cannot be read: permission denied/] as [string, RegExp]]),
  ];
  for (const [path, why] of cases) {
    const found = await problems(raw({ "aws_mq.mq_ca_file": path }));
    assert.equal(found.length, 1, path);
    assert.match(found[0]!, /^aws_mq\.mq_ca_file: /);
    assert.match(found[0]!, why);
  }
});

Deno.test("resolveConfig() lists CA file problems with syntax and value problems, once each", async () => {
  await using pki = await makeTestPki();
  const found = await problems(
    raw({
      "aws_mq.mq_ca_file": `${pki.dir}/nope.pem`,
      "ws_api.ws_ca_file": `${pki.dir}/ca.key`,
      "aws_mq.mq_prefetch": "lots",
    }, ['line 3: expected "key = value" or "[section]"']),
  );
  assert.deepEqual(found.map((p) => p.replace(pki.dir, "DIR")), [
    'line 3: expected "key = value" or "[section]"',
    'aws_mq.mq_ca_file: "DIR/nope.pem" does not exist (expected a PEM file of CA certificates)',
    'ws_api.ws_ca_file: "DIR/ca.key" holds no certificate, only "PRIVATE KEY" (expected the CA\'s ' +
    "-----BEGIN CERTIFICATE----- blocks)",
    'aws_mq.mq_prefetch: "lots" is not a whole number from 1 to 65535',
  ]);
});

Deno.test("resolveConfig() leaves ws_ca_file alone when the WebSocket is not needed (stub mode, bridgetester)", async () => {
  const config = await resolveConfig(raw({ "ws_api.ws_ca_file": "/nonexistent/ca.pem" }), STUB);
  assert.equal(config.ws?.caFile, "/nonexistent/ca.pem", "resolved, not read: nothing will use it");
});

Deno.test("resolveConfig() labels a CA file problem with the source's name for the key", async () => {
  const source = { ...raw({ "aws_mq.mq_ca_file": "/nonexistent/ca.pem" }), label: (k: string) => `/x/${k}` };
  assert.match(
    (await problems(source))[0]!,
    /^\/x\/aws_mq\.mq_ca_file: "\/nonexistent\/ca\.pem" does not exist/,
  );
});

Deno.test("pemCertificatesProblem() refuses text, empty files and a certificate that does not parse", async () => {
  await using pki = await makeTestPki();
  assert.equal(pemCertificatesProblem(pki.caPem), null);
  assert.match(pemCertificatesProblem("")!, /is not a PEM file of certificates/);
  assert.match(pemCertificatesProblem("hello, I am a CA")!, /is not a PEM file of certificates/);
  const broken = pki.caPem.replace(/\n[A-Za-z0-9+/]{20}/, "\nAAAAAAAAAAAAAAAAAAAA");
  assert.match(pemCertificatesProblem(`${pki.caPem}${broken}`)!, /^certificate 2 of 2 does not parse/);
});
