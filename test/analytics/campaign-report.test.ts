import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { MESSAGE_STATUSES } from '../../src/messages/message-lifecycle.js';
import { campaignReport, type CampaignReport } from '../../src/analytics/campaign-report.js';
import { sendQueues } from '../../queues/index.js';
import { freshEngine, makeLeads, runDrumbeat, seedCampaign } from '../support/engine.js';

/** The report's counter of each message status. */
const counterOf: Record<string, string> = {
  PLANNED: 'planned',
  PENDING_REVIEW: 'pendingReview',
  REJECTED: 'rejected',
  QUEUED: 'queued',
  SENDING: 'sending',
  SENT: 'sent',
  SENT_PROOF: 'sentProof',
  FAILED: 'failed',
  DEAD: 'dead',
  SKIPPED: 'skipped',
  UNKNOWN: 'unknown',
};

describe('campaign report', function () {
  this.timeout(60_000);
  const engine = freshEngine();
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  /**
   * A two-step campaign (email, then LinkedIn) whose 20 first-step messages sit in every status,
   * with skip reasons that differ only in their details, plus a second step of three messages.
   */
  async function campaignInEveryStatus(): Promise<{ campaignId: number }> {
    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(20),
      spec: {
        steps: [
          { channel: 'email', delay: '0s', subject: 'Hi', body: 'One' },
          { channel: 'linkedin', delay: '0s', body: 'Two' },
        ],
      },
    });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    for (const definition of Object.values(sendQueues)) await ctx.queues.get(definition).drain(true);
    const ids = (await ctx.db('messages').where({ campaign_id: campaignId }).orderBy('id').pluck('id')) as number[];
    const statuses = [...MESSAGE_STATUSES, 'SKIPPED', 'SKIPPED', 'SKIPPED', 'SKIPPED', 'REJECTED', 'SENT', 'SENT'];
    const skipReasons = ['suppressed: email (complained)', 'suppressed: domain (blocked)', 'lead has no email address', 'placeholder left in output: {{ in body: "Hi {{name}}"', 'suppressed: identity (erased | on request)'];
    let skipped = 0;
    for (const [index, status] of statuses.entries()) {
      const reason = status === 'SKIPPED' ? skipReasons[skipped++] : status === 'REJECTED' ? 'rejected in review: tone' : null;
      await ctx.db('messages').where({ id: ids[index] }).update({ status, skip_reason: reason });
    }
    // Three leads reached the second step (the LinkedIn messages are SENT_PROOF).
    const leadIds = (await ctx.db('campaign_leads').where({ campaign_id: campaignId }).orderBy('id').limit(3).pluck('lead_id')) as number[];
    const enrollments = (await ctx.db('campaign_leads').where({ campaign_id: campaignId }).orderBy('id').limit(3).pluck('id')) as number[];
    await ctx.db('messages').insert(
      leadIds.map((leadId, index) => ({
        idempotency_key: `c${campaignId}-l${leadId}-s1`,
        campaign_id: campaignId,
        lead_id: leadId,
        enrollment_id: enrollments[index],
        step_index: 1,
        channel: 'linkedin',
        status: 'SENT_PROOF',
      })),
    );
    return { campaignId };
  }

  function sumOfStatuses(counts: Record<string, unknown>): number {
    return Object.values(counterOf).reduce((sum, key) => sum + (counts[key] as number), 0);
  }

  it('counts every message status, and the counts sum to the messages in totals, per step and per channel', async () => {
    const { campaignId } = await campaignInEveryStatus();
    const report = await campaignReport(ctx.db, campaignId);
    expect(Object.keys(report), 'the existing keys stay').to.include.members(['campaign', 'totals', 'bySteps', 'byChannel', 'byVariant', 'skipReasons']);
    expect(report.totals.messages).to.equal(23);
    for (const key of Object.values(counterOf)) expect(report.totals, key).to.have.property(key).that.is.a('number');
    // Two first-step messages are left as the tick queued them.
    expect(report.totals).to.include({ planned: 1, pendingReview: 1, rejected: 2, queued: 3, sending: 1, sent: 3, sentProof: 4, failed: 1, dead: 1, skipped: 5, unknown: 1 });
    expect(sumOfStatuses(report.totals)).to.equal(report.totals.messages);
    expect(report.bySteps.map((step) => [step.step, step.channel, step.messages, sumOfStatuses(step)])).to.deep.equal([
      [1, 'email', 20, 20],
      [2, 'linkedin', 3, 3],
    ]);
    expect(report.byChannel.map((channel) => [channel.channel, channel.messages, sumOfStatuses(channel)])).to.deep.equal([
      ['email', 20, 20],
      ['linkedin', 3, 3],
    ]);
    expect(report.skipReasons).to.deep.equal([
      { reason: 'suppressed', count: 3 },
      { reason: 'lead has no email address', count: 1 },
      { reason: 'placeholder left in output', count: 1 },
    ]);
  });

  it('prints the same numbers as Markdown (with the skip reasons), clean JSON on stdout, and CSV', async () => {
    const { campaignId } = await campaignInEveryStatus();
    const markdown = await runDrumbeat(['report', String(campaignId), '--format', 'md']);
    expect(markdown.code, markdown.stderr).to.equal(0);
    expect(markdown.stdout).to.include('| rejected | 2 |').and.include('| sending | 1 |').and.include('| planned | 1 |');
    expect(markdown.stdout).to.include('## Skip reasons\n\n| reason | count |\n| --- | --- |\n| suppressed | 3 |\n| lead has no email address | 1 |\n| placeholder left in output | 1 |');

    const json = await runDrumbeat(['report', String(campaignId), '--format', 'json'], { LOG_LEVEL: 'debug' });
    expect(json.code, json.stderr).to.equal(0);
    const parsed = JSON.parse(json.stdout) as CampaignReport;
    expect(parsed.totals.messages).to.equal(23);
    expect(parsed.skipReasons[0]).to.deep.equal({ reason: 'suppressed', count: 3 });

    const csv = await runDrumbeat(['report', String(campaignId), '--format', 'csv']);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).to.equal(
      'scope,step,channel,reason,messages,planned,pendingReview,rejected,queued,sending,sent,sentProof,failed,dead,skipped,unknown,day,variant,angle,segment,source,utm_source,utm_campaign,sends,delivered,opened,clicked,replied,bounced_hard,bounced_soft,complained,unsubscribed,leads,reply_rate,reply_rate_low,reply_rate_high,text',
    );
    expect(lines, 'the message counts come first, the learning columns after them').to.include('total,,,,23,1,1,2,3,1,3,4,1,1,5,1,,,,,,,,,,,,,,,,,,,,,');
    expect(lines).to.include('skip-reason,,,suppressed,3,,,,,,,,,,3,,,,,,,,,,,,,,,,,,,,,,');
  });
});
