/**
 * The benchmark's baseline: the least an AMQP forwarder can do for the same
 * job as the bridge in stub mode. It consumes `to_ws` with the same prefetch,
 * publishes each message to `from_ws` (persistent, with the TTL) on a confirm
 * channel, and acknowledges it once the broker confirms. No reconnects, no
 * bookkeeping: what the broker allows on this machine. amqplib is used
 * directly, so the baseline shares no code with the bridge.
 *
 *   deno run --allow-net bench/forwarder.ts AMQP_URL TO_WS FROM_WS PREFETCH TTL_MS
 */
import amqp from "amqplib";

const [url, toWs, fromWs, prefetch, ttl] = Deno.args;
if (!url || !toWs || !fromWs || !prefetch || !ttl) {
  // deno-lint-ignore no-console
  console.error("usage: forwarder.ts AMQP_URL TO_WS FROM_WS PREFETCH TTL_MS");
  Deno.exit(2);
}
const conn = await amqp.connect(url, { noDelay: true });
const sub = await conn.createChannel();
const pub = await conn.createConfirmChannel();
await sub.prefetch(Number(prefetch));
await sub.assertQueue(toWs, { durable: true });
await pub.assertQueue(fromWs, { durable: true });
await sub.consume(toWs, (msg) => {
  if (!msg) return;
  pub.publish("", fromWs, msg.content, {
    persistent: true,
    expiration: ttl,
    contentType: msg.properties.contentType ?? "text/plain",
  }, (err: unknown) => err ? sub.nack(msg) : sub.ack(msg));
}, { noAck: false });
// deno-lint-ignore no-console
console.log("forwarding");
const stop = Promise.withResolvers<void>();
Deno.addSignalListener("SIGTERM", () => stop.resolve());
await stop.promise;
await conn.close();
