import assert from "node:assert/strict";
import { Redactor, redactUrl, Secret } from "../../lib/secret.ts";

Deno.test("Secret prints as *** however it is printed", () => {
  const secret = new Secret("hunter2");
  for (const text of [String(secret), `${secret}`, JSON.stringify({ secret }), Deno.inspect({ secret })]) {
    assert.ok(!text.includes("hunter2"), text);
    assert.match(text, /\*\*\*/);
  }
  assert.equal(secret.reveal(), "hunter2");
});

Deno.test("redactUrl() hides a URL's password and token parameters and keeps the rest", () => {
  assert.equal(
    redactUrl("amqps://user:p%40ss@b-1.mq.us-east-1.amazonaws.com:5671"),
    "amqps://user:***@b-1.mq.us-east-1.amazonaws.com:5671",
  );
  assert.equal(
    redactUrl("wss://api.example.com/ws?x=1&jwt=eyJabc.def.ghi&y=2"),
    "wss://api.example.com/ws?x=1&jwt=***&y=2",
  );
  assert.equal(redactUrl("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
});

Deno.test("Redactor masks registered values, their URL-encoded forms and bare JWTs", () => {
  const redactor = new Redactor();
  redactor.add(new Secret("p@ss word!"));
  redactor.add("ab"); // too short to scrub by value
  const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlc2ln";
  const text = redactor.redact(`failed: p@ss word! / p%40ss%20word! / token ${jwt} / about`);
  assert.equal(text, "failed: *** / *** / token *** / about");
});

Deno.test("Redactor masks a longer secret whole even when it contains a shorter one", () => {
  const redactor = new Redactor();
  redactor.add("secret");
  redactor.add("secret-and-more");
  assert.equal(redactor.redact("x secret-and-more y secret"), "x *** y ***");
});

Deno.test("Redactor masks a secret's JSON-escaped form too; redactValues() leaves the patterns alone", () => {
  const redactor = new Redactor();
  redactor.add('quo"te\\back\nline');
  const escaped = JSON.stringify('quo"te\\back\nline').slice(1, -1); // quo\"te\\back\nline
  assert.equal(redactor.redact(`a ${escaped} b`), "a *** b");
  assert.equal(
    redactor.redactValues(`quo"te\\back\nline amqp://u:p@h eyJhbGciOi.eyJpc3MiOi.c2lnbmF0dXJl`),
    "*** amqp://u:p@h eyJhbGciOi.eyJpc3MiOi.c2lnbmF0dXJl",
  );
});
