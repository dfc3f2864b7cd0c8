import type { Config } from '../config/config.js';
import type { Channel } from '../core/channels.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';

/**
 * Adds the send jobs of QUEUED messages with `addBulk`, one chunk per channel, jobId = the
 * message key. Adding a job whose id already exists is a no-op in BullMQ, so re-enqueueing
 * (the reconciler, a repeated tick) never creates a second job for a message.
 */
export async function enqueueSends(
  queues: QueueRegistry,
  config: Pick<Config, 'SEND_ATTEMPTS' | 'SEND_BACKOFF'>,
  messages: ReadonlyArray<{ id: number; idempotency_key: string; channel: Channel }>,
  delay?: number,
): Promise<number> {
  const byChannel = new Map<Channel, Array<{ id: number; idempotency_key: string }>>();
  for (const message of messages) {
    const list = byChannel.get(message.channel) ?? [];
    list.push(message);
    byChannel.set(message.channel, list);
  }
  let added = 0;
  for (const [channel, list] of byChannel) {
    added += await queues.addMany(
      queues.directory.send[channel],
      list.map((message) => ({
        data: { messageId: message.id },
        opts: {
          jobId: message.idempotency_key,
          attempts: config.SEND_ATTEMPTS,
          backoff: { type: 'exponential', delay: config.SEND_BACKOFF },
          ...(delay === undefined ? {} : { delay }),
        },
      })),
    );
  }
  return added;
}
