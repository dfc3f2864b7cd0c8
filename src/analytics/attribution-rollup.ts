import type { Knex } from 'knex';
import { attributedMessageJoinsSql, attributedSql, OUTCOME_EVENT_TYPES, sentAtSql } from './metrics-facts.js';

/** Which rows to attribute: those changed since a horizon, those of some campaigns, or (neither) all. */
export interface AttributionScope {
  changedSince?: number;
  campaignIds?: readonly number[];
}

/** The lead's source and UTM columns (leads aliased `l`, its enrollment `cl`), in the order of {@link creditColumns}. */
const creditValues = `l.source, l.source_ref, cl.import_batch_id, l.utm_source, l.utm_medium, l.utm_campaign, l.utm_content, l.utm_term, l.referrer`;
const creditColumns = `source, source_ref, import_batch_id, utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer`;

function filterSql(alias: string, scope: AttributionScope): { sql: string; bindings: Knex.Value[] } {
  if (scope.changedSince !== undefined) return { sql: `age(${alias}.xmin) <= age((?::bigint % 4294967296)::text::xid)`, bindings: [scope.changedSince] };
  if (scope.campaignIds !== undefined) return { sql: `${alias}.campaign_id = ANY(?::bigint[])`, bindings: [[...scope.campaignIds]] };
  return { sql: 'true', bindings: [] };
}

/**
 * Writes attribution, idempotently (each touch has a unique key and `ON CONFLICT`):
 * - FIRST and LAST: the first and the last message sent to a lead in a campaign (its channel,
 *   message and time) with the lead's source and UTM; a later run moves them only to an earlier
 *   first or a later last message;
 * - OUTCOME: one row per reply, bounce, complaint or unsubscribe on the lead's timeline, written
 *   once, credited to the lead's source (`source`: import, form, api…; `import_batch_id` when
 *   an import batch enrolled it; `source_ref`) and UTM, and to the channel of the message it
 *   follows.
 * Only rows in the scope are read (the messages and events changed since the last rollup).
 * Returns how many attribution rows it inserted or moved.
 */
export async function writeAttributions(trx: Knex, scope: AttributionScope): Promise<number> {
  const sent = filterSql('m', scope);
  let written = 0;
  for (const [touch, order, better] of [
    ['FIRST', 'ASC', '<'],
    ['LAST', 'DESC', '>'],
  ] as const) {
    const result = await trx.raw<{ rowCount: number }>(
      `INSERT INTO attributions (lead_id, campaign_id, touch, channel, message_id, occurred_at, ${creditColumns})
       SELECT DISTINCT ON (m.campaign_id, m.lead_id) m.lead_id, m.campaign_id, '${touch}', m.channel, m.id, ${sentAtSql('m')}, ${creditValues}
         FROM messages m
         JOIN leads l ON l.id = m.lead_id
         JOIN campaign_leads cl ON cl.id = m.enrollment_id
        WHERE m.status IN ('SENT', 'SENT_PROOF') AND ${sent.sql}
        ORDER BY m.campaign_id, m.lead_id, ${sentAtSql('m')} ${order}, m.id ${order}
       ON CONFLICT (lead_id, (coalesce(campaign_id, 0))) WHERE touch = '${touch}'
       DO UPDATE SET channel = excluded.channel, message_id = excluded.message_id, occurred_at = excluded.occurred_at
        WHERE (excluded.occurred_at, excluded.message_id) ${better} (attributions.occurred_at, coalesce(attributions.message_id, excluded.message_id))`,
      sent.bindings,
    );
    written += result.rowCount;
  }
  const events = filterSql('e', scope);
  const outcomes = await trx.raw<{ rowCount: number }>(
    `INSERT INTO attributions (lead_id, campaign_id, touch, outcome, contact_event_id, channel, message_id, occurred_at, ${creditColumns})
     SELECT e.lead_id, e.campaign_id, 'OUTCOME', e.type, e.id, ${attributedSql('channel')}, ${attributedSql('id')}, e.occurred_at, ${creditValues}
       FROM contact_events e
       JOIN leads l ON l.id = e.lead_id
       LEFT JOIN campaign_leads cl ON cl.campaign_id = e.campaign_id AND cl.lead_id = e.lead_id
       ${attributedMessageJoinsSql}
      WHERE e.type IN (${OUTCOME_EVENT_TYPES.map((type) => `'${type}'`).join(', ')}) AND ${events.sql}
     ON CONFLICT (contact_event_id) WHERE touch = 'OUTCOME' DO NOTHING`,
    events.bindings,
  );
  return written + outcomes.rowCount;
}
