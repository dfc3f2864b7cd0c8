import type { Knex } from 'knex';
import { Batcher } from '../../core/batcher.js';
import { arrayBinding, preparedAs } from '../../db/bindings.js';
import type { ChannelAdapter, OutboundMessage, SendResult } from '../adapter.js';

/**
 * The PROOF "provider": instead of calling a platform it appends one row per call to
 * `proof_deliveries` (never updated), so the ledger shows exactly what a provider would have
 * received: subject, body and its format, and an email's reply headers. Concurrent calls are
 * written in one prepared insert.
 */
export function proofAdapter(db: Knex): ChannelAdapter {
  const ledger = new Batcher<OutboundMessage, SendResult>(async (messages) => {
    const { rows } = await db
      .raw<{ rows: Array<{ id: number }> }>(
        `INSERT INTO proof_deliveries (message_id, idempotency_key, channel, recipient, subject, body, format, in_reply_to, thread_references)
         SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
         RETURNING id`,
        [
          messages.map((message) => message.id),
          messages.map((message) => message.idempotencyKey),
          messages.map((message) => message.channel),
          messages.map((message) => message.recipient),
          arrayBinding(messages.map((message) => message.subject)),
          messages.map((message) => message.body),
          messages.map((message) => message.format),
          arrayBinding(messages.map((message) => message.thread?.inReplyTo ?? null)),
          arrayBinding(messages.map((message) => message.thread?.references ?? null)),
        ],
      )
      .options(preparedAs('append-proof-deliveries'));
    return rows.map((row) => ({ provider: 'proof', externalId: `proof-${row.id}` }));
  });
  return {
    provider: 'proof',
    send: (message) => ledger.run(message),
  };
}
