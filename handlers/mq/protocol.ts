/**
 * AMQP details behind handlers/mq/session.ts: the errors the session reports, queue
 * declaration and what the broker's refusals mean, the heartbeat in the URL,
 * the login credentials, and a few amqplib specifics (acks by tag, dropping a
 * stuck socket, one socket write for the frames of a multiplexer pass).
 */
import amqp from "amqplib";
import type { ChannelModel, Message } from "amqplib";
import { errorText } from "../../lib/log.ts";

/** The broker cannot take the request now (down, or the connection was lost). */
export class MqUnavailableError extends Error {
  override name = "MqUnavailableError";
}

/** The broker confirmed a message but routed it nowhere (its queue is gone). */
export class MqReturnedError extends Error {
  override name = "MqReturnedError";
  /** What the bridge's core looks for (bridge/ports.ts PublishError): the queue is gone. */
  readonly unroutable = true;
}

/** Setup the broker refuses for good (queue exists with other arguments, no permission). */
export class MqSetupError extends Error {
  override name = "MqSetupError";
}

/** Every connection attempt allowed by the policy failed. */
export class MqGaveUpError extends Error {
  override name = "MqGaveUpError";
}

/** The broker refused the login (user, password, or access to the vhost): retrying cannot help. */
export class MqAccessError extends Error {
  override name = "MqAccessError";
}

/**
 * Makes sure each queue exists, as the operator made it: a queue that exists
 * is used whatever its type and arguments (quorum, lazy, max-length,
 * dead-lettering); a missing one is declared durable (as the original did),
 * of type `type`. Problems with several queues are reported together.
 */
export async function declareQueues(
  conn: ChannelModel,
  queues: readonly string[],
  type: "classic" | "quorum",
): Promise<void> {
  const problems: string[] = [];
  for (const queue of queues) {
    try {
      if (!await queueExists(conn, queue)) await declareQueue(conn, queue, type);
    } catch (err) {
      if (!(err instanceof MqSetupError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) throw new MqSetupError(problems.join("; "));
}

/** A passive declaration, on a channel of its own (the broker closes it when the queue is missing). */
async function queueExists(conn: ChannelModel, queue: string): Promise<boolean> {
  const channel = await conn.createChannel();
  channel.on("error", () => {}); // the 404 below closes the channel; that is the answer, not a fault
  try {
    await channel.checkQueue(queue);
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === 404) return false;
    if (code === 403) {
      throw new MqSetupError(`Cannot use queue "${queue}": access refused (${serverText(err)})`, {
        cause: err,
      });
    }
    throw err;
  }
  await channel.close().catch(() => {});
  return true;
}

async function declareQueue(conn: ChannelModel, queue: string, type: "classic" | "quorum"): Promise<void> {
  const channel = await conn.createChannel();
  channel.on("error", () => {});
  try {
    await channel.assertQueue(queue, {
      durable: true,
      ...(type === "quorum" ? { arguments: { "x-queue-type": "quorum" } } : {}),
    });
  } catch (err) {
    const code = (err as { code?: number }).code;
    // Declared by someone else between our check and ours, with other settings: use theirs.
    if (code === 406 && await queueExists(conn, queue)) return;
    if (code === 403) {
      throw new MqSetupError(
        `Cannot create queue "${queue}": access refused (${serverText(err)}); create it beforehand ` +
          `or grant the user "configure" permission on it`,
        { cause: err },
      );
    }
    throw err;
  }
  await channel.close().catch(() => {});
}

/** True for a refused login or vhost access (AMQP 403 ACCESS_REFUSED, 530 NOT_ALLOWED on open). */
export function isAccessRefused(err: unknown): boolean {
  const text = errorText(err);
  return /ACCESS.REFUSED/.test(text) || /NOT_ALLOWED - access to vhost/.test(text);
}

/**
 * The PLAIN credentials of an AMQP URL, decoded as UTF-8. amqplib decodes
 * them with `unescape`, which reads %-escapes as Latin-1, so a non-ASCII
 * password would never log in; null when the URL carries none.
 */
export function plainCredentials(url: string): ReturnType<typeof amqp.credentials.plain> | null {
  const parsed = new URL(url);
  if (parsed.username === "" && parsed.password === "") return null;
  try {
    return amqp.credentials.plain(decodeURIComponent(parsed.username), decodeURIComponent(parsed.password));
  } catch {
    throw new MqSetupError(
      'The broker URL\'s user or password has a "%" not followed by two hex digits (write "%25" for "%")',
    );
  }
}

/** Adds `heartbeat=N` to the URL unless it sets one itself. */
export function withHeartbeat(url: string, heartbeatSecs: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has("heartbeat")) parsed.searchParams.set("heartbeat", String(heartbeatSecs));
  return parsed.href;
}

function serverText(err: unknown): string {
  const text = errorText(err);
  return /with message "([^"]+)"/.exec(text)?.[1] ?? text;
}

/** An error's text plus a hint for the causes operators meet most. */
export function explain(err: unknown): string {
  const text = errorText(err);
  if (/ACCESS.REFUSED/.test(text) && /login/i.test(text)) {
    return `${text} (check mq_user_id and mq_password, or the credentials in mq_url)`;
  }
  if (/NOT_ALLOWED - access to vhost/.test(text)) {
    return `${text} (grant the user permissions on the vhost: rabbitmqctl set_permissions)`;
  }
  return text;
}

/**
 * amqplib's ack/nack read only `message.fields.deliveryTag`; passing just the
 * tag lets callers release a message body as soon as it has been sent.
 */
export function tagOnly(handle: { readonly tag: number }): Message {
  return { fields: { deliveryTag: handle.tag } } as Message;
}

/**
 * Ends the socket under an amqplib connection with an error, which amqplib handles like a
 * dropped connection (timers cleared, "close" emitted). The socket is not in amqplib's
 * types; amqplib is pinned in deno.json.
 */
export function destroySocket(conn: ChannelModel): void {
  const socket = (conn.connection as unknown as { stream?: { destroy(err?: Error): void } }).stream;
  socket?.destroy(new Error("no answer to connection.close"));
}

/**
 * Makes amqplib hand the socket the frames of one pass in one write.
 *
 * amqplib queues every frame in a per-channel stream. Its multiplexer then writes
 * them to the socket one `write()` each: one `sendto` per published message.
 * This wraps each pass of the multiplexer in `cork()`/`uncork()`, the socket's own
 * batching, so all the frames of a pass go out in one `writev`. A pass ends when
 * every channel's stream is empty or the socket is full. Order and flow control
 * are unchanged: the socket still takes the same bytes in the same order, and a
 * full socket still stops the pass until `drain`. Measured: a flood of 100 B
 * messages went from 1.02 `sendto` per message to a few hundred `writev` calls
 * for 50,000 (docs/performance.md).
 *
 * Returns false, leaving the connection as it was, if amqplib's internals are not
 * the ones expected. amqplib is pinned in deno.json, and a test fails if this
 * stops finding them.
 */
export function coalesceWrites(conn: ChannelModel): boolean {
  // Not in amqplib's types: its Connection's multiplexer (lib/mux.js) and socket (a node:net Socket).
  const { muxer, stream } = conn.connection as unknown as {
    muxer?: { _readIncoming?: () => void };
    stream?: { cork?: () => void; uncork?: () => void };
  };
  const pass = muxer?._readIncoming;
  if (!muxer || typeof pass !== "function" || typeof stream?.cork !== "function" || !stream.uncork) {
    return false;
  }
  muxer._readIncoming = function () {
    stream.cork!();
    try {
      pass.call(this);
    } finally {
      stream.uncork!();
    }
  };
  return true;
}

export function ignoreClosed(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel closed under us; the broker requeues whatever was unacknowledged.
  }
}
