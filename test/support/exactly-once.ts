import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { eventually } from './engine.js';

/** The chaos checks shared by the tests that break things mid-campaign (chaos, Redis topologies). */

export interface Outcome {
  completed: number;
  unknown: number;
}

/**
 * The exactly-once check: every proof ledger key appears at most once; every message is
 * SENT_PROOF or UNKNOWN (a send caught mid-flight, never resent); every enrollment finished
 * all steps, each with exactly one ledger row, or stopped on an UNKNOWN message.
 */
export async function assertExactlyOnce(ctx: AppContext, campaignId: number, leads: number, steps: number): Promise<Outcome> {
  const duplicates = (await ctx.db('proof_deliveries')
    .select('idempotency_key')
    .count('* as count')
    .groupBy('idempotency_key')
    .having(ctx.db.raw('count(*) > 1'))) as unknown[];
  expect(duplicates, 'no message reached the provider twice').to.deep.equal([]);
  const statuses = (await ctx.db('messages').where({ campaign_id: campaignId }).groupBy('status').select('status').count('* as count')) as Array<{
    status: string;
    count: number;
  }>;
  for (const row of statuses) expect(['SENT_PROOF', 'UNKNOWN'], `no message is ${row.status}`).to.include(row.status);
  const { rows } = await ctx.db.raw<{ rows: Array<{ state: string; sent: number; ledger: number; unknown: number }> }>(
    `SELECT cl.state,
            count(m.id) FILTER (WHERE m.status = 'SENT_PROOF')::int AS sent,
            count(p.id)::int AS ledger,
            count(m.id) FILTER (WHERE m.status = 'UNKNOWN')::int AS unknown
       FROM campaign_leads cl
       LEFT JOIN messages m ON m.enrollment_id = cl.id
       LEFT JOIN proof_deliveries p ON p.message_id = m.id AND m.status = 'SENT_PROOF'
      WHERE cl.campaign_id = ?
      GROUP BY cl.id, cl.state`,
    [campaignId],
  );
  expect(rows).to.have.length(leads);
  let completed = 0;
  let unknown = 0;
  for (const row of rows) {
    if (row.unknown > 0) {
      unknown += 1;
      expect(row.unknown, 'at most the step in flight is UNKNOWN').to.equal(1);
    } else {
      completed += 1;
      expect(row, 'a finished lead got every step exactly once').to.deep.equal({ state: 'COMPLETED', sent: steps, ledger: steps, unknown: 0 });
    }
  }
  return { completed, unknown };
}

export async function sentCount(ctx: AppContext, campaignId: number): Promise<number> {
  const [{ count }] = (await ctx.db('messages').where({ campaign_id: campaignId, status: 'SENT_PROOF' }).count('* as count')) as [{ count: number }];
  return count;
}

export async function untilCompleted(ctx: AppContext, campaignId: number, timeoutMs = 90_000): Promise<void> {
  await eventually(async () => (await ctx.campaigns.require(campaignId)).status === 'COMPLETED', 'the campaign to complete', timeoutMs);
}
