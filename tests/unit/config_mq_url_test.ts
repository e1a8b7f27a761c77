/**
 * The broker URL and login from `[aws_mq]`: any characters in mq_user_id and
 * mq_password give a URL that decodes back to them, the decoded login is
 * handed out separately (for clients that must not parse it from the URL),
 * and a `mq_url` whose user info is not valid percent-encoding is a
 * configuration error naming the key, never the value.
 */
import assert from "node:assert/strict";
import { ConfigError, type MqSettings, parseConfig } from "../../config/config.ts";
import { registerConfigSecrets } from "../../config/secrets.ts";
import { Redactor } from "../../lib/secret.ts";

const STUB = { ws: false, logs: false, metrics: false };
const QUEUES = { "aws_mq.mq_qname_to_ws": "to_ws", "aws_mq.mq_qname_from_ws": "from_ws" };
const AMAZON = { "aws_mq.mq_broker_id": "b-1234", "aws_mq.mq_region": "us-east-1", ...QUEUES };

function mq(values: Record<string, string>): MqSettings {
  return parseConfig({ source: "t.ini", values: new Map(Object.entries(values)) }, STUB).mq;
}

function problems(values: Record<string, string>): string[] {
  try {
    mq(values);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

/** Logins no parser may mangle: delimiters of URLs, "%", spaces, non-ASCII, an emoji. */
const LOGINS = [
  { user: "me@corp", password: "p:w/d%@" },
  { user: "bridge:1", password: "100%zz" },
  { user: "ünïcødé", password: "pässwörd€" },
  { user: "a b", password: "x?y#z&w=v+u" },
  { user: "emoji😀", password: "%41%" },
  { user: "plain", password: "" },
];

Deno.test("parseConfig() builds an Amazon MQ URL that decodes back to any mq_user_id and mq_password", () => {
  for (const { user, password } of LOGINS) {
    const settings = mq({ ...AMAZON, "aws_mq.mq_user_id": user, "aws_mq.mq_password": password || "-" });
    const pw = password || "-";
    const url = new URL(settings.url.reveal());
    assert.equal(decodeURIComponent(url.username), user);
    assert.equal(decodeURIComponent(url.password), pw);
    assert.equal(url.host, "b-1234.mq.us-east-1.amazonaws.com:5671");
  }
});

Deno.test("parseConfig() adds mq_user_id and mq_password of any characters to an mq_url without a login", () => {
  for (const { user, password } of LOGINS) {
    const settings = mq({
      ...QUEUES,
      "aws_mq.mq_url": "amqp://127.0.0.1:5672/vhost?heartbeat=5",
      "aws_mq.mq_user_id": user,
      ...password ? { "aws_mq.mq_password": password } : {},
    });
    const url = new URL(settings.url.reveal());
    assert.equal(decodeURIComponent(url.username), user);
    assert.equal(decodeURIComponent(url.password), password);
    assert.equal(url.pathname + url.search, "/vhost?heartbeat=5");
  }
});

Deno.test("parseConfig() keeps the encoded login of an mq_url, which decodes to what the operator meant", () => {
  const settings = mq({ ...QUEUES, "aws_mq.mq_url": "amqps://me%40corp:p%C3%A4ss%25w%2Frd@broker:5671/%2F" });
  const url = new URL(settings.url.reveal());
  assert.equal(decodeURIComponent(url.username), "me@corp");
  assert.equal(decodeURIComponent(url.password), "päss%w/rd");
  assert.equal(settings.displayUrl, "amqps://me%40corp:***@broker:5671/%2F");
  assert.equal(settings.url.reveal(), "amqps://me%40corp:p%C3%A4ss%25w%2Frd@broker:5671/%2F");
});

Deno.test("parseConfig() adds no login to an mq_url without one when there is no mq_user_id", () => {
  const settings = mq({ ...QUEUES, "aws_mq.mq_url": "amqp://127.0.0.1:5672" });
  assert.equal(settings.url.reveal(), "amqp://127.0.0.1:5672");
});

Deno.test("parseConfig() refuses an mq_url whose login is not valid percent-encoding, naming the key, not the value", () => {
  const cases: [string, string][] = [
    ["amqp://bridge:pa%zzword@127.0.0.1:5672", "password"],
    ["amqp://bridge:100%@127.0.0.1:5672", "password"],
    ["amqp://bridge:%C3%28bad@127.0.0.1:5672", "password"], // not UTF-8
    ["amqp://br%g1dge:secret@127.0.0.1:5672", "user name"],
  ];
  for (const [url, part] of cases) {
    const found = problems({ ...QUEUES, "aws_mq.mq_url": url });
    assert.equal(found.length, 1, url);
    assert.match(found[0]!, new RegExp(`^aws_mq\\.mq_url: the ${part} is not valid URL encoding: .*%25`));
    assert.ok(!/pa%zz|100%|%C3%28|br%g1|secret|bridge/.test(found[0]!), found[0]);
  }
  assert.deepEqual(problems({ ...QUEUES, "aws_mq.mq_url": "amqp://" }), [
    "aws_mq.mq_url: has no host (expected amqp://host:port or amqps://user:password@host:port)",
  ]);
});

Deno.test("registerConfigSecrets() takes a malformed mq_url password without throwing, and hides it", () => {
  const redactor = new Redactor();
  const url = "amqp://bridge:pa%zzword@127.0.0.1:5672";
  registerConfigSecrets({ source: "t", values: new Map([["aws_mq.mq_url", url]]) }, redactor);
  assert.ok(!redactor.redact(`said pa%zzword and ${url}`).includes("pa%zzword"));
});
