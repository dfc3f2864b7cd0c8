import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { unknownService } from '../../src/messages/unknown-service.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { eventually, freshEngine, ledger, makeLeads, runDrumbeat, seedCampaign, statusCounts } from '../support/engine.js';

describe('resolving UNKNOWN messages', function () {
  this.timeout(30_000);
  const engine = freshEngine();
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  /** Three leads whose first message ended UNKNOWN, as after a crash mid-send. */
  async function threeUnknown(): Promise<{ campaignId: number; ids: number[] }> {
    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(3),
      spec: {
        steps: [
          { channel: 'email', delay: '0s', subject: 'Hi', body: 'One' },
          { channel: 'email', delay: '1h', body: 'Two' },
        ],
      },
    });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await ctx.queues.get(sendEmailQueue).drain(true);
    const rows = (await ctx.db('messages').where({ campaign_id: campaignId }).orderBy('id').update({ status: 'UNKNOWN', last_error: 'crash' }, ['id'])) as Array<{ id: number }>;
    return { campaignId, ids: rows.map((row) => row.id).sort((a, b) => a - b) };
  }

  it('lists them and settles each as sent, failed or resend; only resend sends, once', async () => {
    const { campaignId, ids } = await threeUnknown();
    const [sentId, failedId, resendId] = ids as [number, number, number];
    const listed = await runDrumbeat(['messages', 'unknown', '--campaign', String(campaignId)]);
    expect(listed.code).to.equal(0);
    expect(listed.stdout.trim().split('\n')).to.have.length(3);

    const service = unknownService(ctx);
    expect(await service.resolve([sentId], 'sent', 'ops')).to.deep.equal([sentId]);
    expect(await service.resolve([failedId], 'failed', 'ops')).to.deep.equal([failedId]);
    expect(await service.resolve([sentId], 'resend', 'ops'), 'a resolved message is not UNKNOWN any more').to.deep.equal([]);
    const cli = await runDrumbeat(['messages', 'resolve', String(resendId), '--as', 'resend', '--by', 'ops@example.com']);
    expect(cli.code, cli.stderr).to.equal(0);

    await engine.startWorkers();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 2, 'the resent one delivered');
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ SENT_PROOF: 2, DEAD: 1 });
    expect(await ledger(ctx, campaignId), 'only the resend reached the provider').to.deep.equal({ rows: 1, distinct: 1 });
    const enrollments = (await ctx.db('campaign_leads').where({ campaign_id: campaignId }).orderBy('lead_id').select('state', 'current_step')) as Array<{
      state: string;
      current_step: number;
    }>;
    expect(enrollments).to.deep.equal([
      { state: 'ACTIVE', current_step: 1 },
      { state: 'FAILED', current_step: 0 },
      { state: 'ACTIVE', current_step: 1 },
    ]);
  });
});
