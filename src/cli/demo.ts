import cliProgress from 'cli-progress';
import { parseCampaignSpec } from '../campaigns/campaign-spec.js';
import { findCampaign } from '../campaigns/campaign-store.js';
import { campaignReport, type CampaignReport } from '../analytics/campaign-report.js';
import { upsertLeads, type NewLead } from '../leads/lead-store.js';
import { enrollLeads } from '../enrollments/enrollment-lifecycle.js';
import { MESSAGES, SETTLED_STATUSES } from '../messages/message-lifecycle.js';
import type { AppContext } from '../runtime/context.js';
import { refuseMismatchedTopology, startWorkers } from '../runtime/worker-runtime.js';

const firstNames = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Linus'];
const companies = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell'];

/** The demo's three-step PROOF sequence: email, then LinkedIn, then a follow-up email. */
export function demoSpec(stamp: string) {
  return parseCampaignSpec({
    name: `Demo ${stamp}`,
    slug: `demo-${stamp}`,
    mode: 'PROOF',
    timezone: 'UTC',
    tickEvery: '1s',
    from: { name: 'Ada from drumbeat', email: 'ada@example.com' },
    steps: [
      {
        channel: 'email',
        delay: '0s',
        subject: 'Quick question, <%= it.lead.firstName %>',
        body: 'Hi <%= it.lead.firstName %>, how is <%= it.lead.company %> handling outbound today?',
      },
      { channel: 'linkedin', delay: '2s', body: 'Hi <%= it.lead.firstName %>, I sent you an email about <%= it.lead.company %>.' },
      { channel: 'email', delay: '2s', subject: 'Following up', body: 'Hi <%= it.lead.firstName %>, just following up on my note.' },
    ],
  });
}

/**
 * Creates the demo campaign with `leadCount` generated leads, approves and starts it, runs the
 * workers in this process until it completes (with a progress bar on stderr), and returns its
 * report, counted from the database.
 */
export async function runDemo(ctx: AppContext, leadCount: number): Promise<CampaignReport> {
  // Before anything is written: a campaign that cannot run would be left behind.
  await refuseMismatchedTopology(ctx);
  const stamp = ctx.clock.now().toISOString().replace(/\D/g, '').slice(0, 17);
  const spec = demoSpec(stamp);
  const campaignId = await ctx.campaigns.create(spec);
  for (let start = 0; start < leadCount; start += 1000) {
    const leads: NewLead[] = [];
    for (let index = start; index < Math.min(leadCount, start + 1000); index += 1) {
      leads.push({
        email: `demo-lead-${index}@example.com`,
        firstName: firstNames[index % firstNames.length] ?? 'Ada',
        lastName: `Lead${index}`,
        company: companies[index % companies.length] ?? 'Acme',
        linkedinId: `urn:li:person:demo${index}`,
        source: 'demo',
      });
    }
    const ids = await upsertLeads(ctx.db, leads, ctx.clock.now());
    await enrollLeads(ctx.db, campaignId, [...ids.values()], 0, ctx.clock.now());
  }
  await ctx.campaigns.approve(campaignId, 'demo campaign', 'demo');
  await ctx.campaigns.start(campaignId);
  process.stderr.write(`demo campaign ${campaignId}: ${leadCount} leads × ${spec.steps.length} steps in PROOF mode\n`);

  const workers = await startWorkers(ctx);
  const bar = new cliProgress.SingleBar(
    { format: 'sending [{bar}] {percentage}% | {value}/{total} messages | {duration}s', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const total = leadCount * spec.steps.length;
  bar.start(total, 0);
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const [{ count }] = (await ctx.db(MESSAGES)
        .where({ campaign_id: campaignId })
        .whereIn('status', [...SETTLED_STATUSES])
        .count('* as count')) as [{ count: number }];
      bar.update(count);
      const campaign = await findCampaign(ctx.db, campaignId);
      if (campaign?.status === 'COMPLETED') break;
    }
  } finally {
    bar.stop();
    await workers.close();
  }
  return campaignReport(ctx.db, campaignId);
}
