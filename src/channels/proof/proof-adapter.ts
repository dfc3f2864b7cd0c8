import type { Knex } from 'knex';
import { Batcher } from '../../db/batcher.js';
import type { ChannelAdapter, OutboundMessage, SendResult } from '../adapter.js';

/**
 * The PROOF "provider": instead of calling a platform it appends one row per call to
 * `proof_deliveries` (never updated), so the ledger shows exactly what a provider would have
 * received. Concurrent calls are written in one multi-row insert.
 */
export function proofAdapter(db: Knex): ChannelAdapter {
  const ledger = new Batcher<OutboundMessage, SendResult>(async (messages) => {
    const rows = (await db('proof_deliveries')
      .insert(
        messages.map((message) => ({
          message_id: message.id,
          idempotency_key: message.idempotencyKey,
          channel: message.channel,
          recipient: message.recipient,
          subject: message.subject,
          body: message.body,
        })),
      )
      .returning('id')) as Array<{ id: number }>;
    return rows.map((row) => ({ provider: 'proof', externalId: `proof-${row.id}` }));
  });
  return {
    provider: 'proof',
    send: (message) => ledger.run(message),
  };
}
