/**
 * AMQP details behind handlers/mq.ts: the errors the session reports, queue
 * declaration and what the broker's refusals mean, the heartbeat in the URL,
 * and a few amqplib specifics (acks by tag, dropping a stuck socket). Types
 * only from amqplib; mq.ts is the one module that runs it.
 */
import type { Channel, ChannelModel, Message } from "amqplib";
import { errorText } from "./logging.ts";
import type { MqAckHandle } from "./mq.ts";

/** The broker cannot take the request now (down, or the connection was lost). */
export class MqUnavailableError extends Error {
  override name = "MqUnavailableError";
}

/** The broker confirmed a message but routed it nowhere (its queue is gone). */
export class MqReturnedError extends Error {
  override name = "MqReturnedError";
}

/** Setup the broker refuses for good (queue exists with other arguments, no permission). */
export class MqSetupError extends Error {
  override name = "MqSetupError";
}

/** Every connection attempt allowed by the policy failed. */
export class MqGaveUpError extends Error {
  override name = "MqGaveUpError";
}

/** Declares each queue durable; a queue that exists with other settings is fatal. */
export async function declareQueues(channel: Channel, queues: readonly string[]): Promise<void> {
  for (const queue of queues) {
    try {
      await channel.assertQueue(queue, { durable: true });
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 406) {
        throw new MqSetupError(
          `Cannot declare queue "${queue}" durable: it exists with different settings (${
            serverText(err)
          }); ` +
            `delete the queue or configure another name`,
          { cause: err },
        );
      }
      if (code === 403) {
        throw new MqSetupError(`Cannot declare queue "${queue}": access refused (${serverText(err)})`, {
          cause: err,
        });
      }
      throw err;
    }
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
    return `${text} (check mq_user_id and mq_password)`;
  }
  return text;
}

/**
 * amqplib's ack/nack read only `message.fields.deliveryTag`; passing just the
 * tag lets callers release a message body as soon as it has been sent.
 */
export function tagOnly(handle: MqAckHandle): Message {
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

export function ignoreClosed(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel closed under us; the broker requeues whatever was unacknowledged.
  }
}
