import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppContext } from '../../src/runtime/context.js';
import { freshEngine, ledger, makeLeads, runDrumbeat, seedCampaign, statusCounts } from '../support/engine.js';

describe('template and review commands', function () {
  this.timeout(90_000);
  const engine = freshEngine();
  let ctx: AppContext;
  let dir: string;

  beforeEach(async () => {
    ctx = engine.ctx;
    dir = await mkdtemp(join(tmpdir(), 'drumbeat-cli-'));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('saves, refuses, previews templates, and approves and rejects held messages from the command line', async () => {
    const good = join(dir, 'good.eta');
    const bad = join(dir, 'bad.eta');
    await writeFile(good, 'Hi <%= it.lead.firstName %> from <%= it.campaign.name %>');
    await writeFile(bad, 'Hi\n<%= it.lead.compnay %>');
    const refused = await runDrumbeat(['template', 'add', 'broken', '--channel', 'email', '--body', bad]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.match(/line 2.*it\.lead\.compnay|it\.lead\.compnay.*line 2/);
    const added = await runDrumbeat(['template', 'add', 'hello', '--channel', 'email', '--body', good, '--subject', 'Hello <%= it.lead.firstName %>']);
    expect(added.code, added.stderr).to.equal(0);

    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(3), spec: { requireReview: true } });
    const preview = await runDrumbeat(['template', 'preview', 'hello', '--lead', 'lead-1@example.com', '--campaign', String(campaignId), '--json']);
    expect(preview.code, preview.stderr).to.equal(0);
    expect(preview.stdout).to.include('Hi First1 from');

    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    const listed = await runDrumbeat(['review', 'list', '--campaign', String(campaignId), '--json']);
    const waiting = JSON.parse(listed.stdout) as Array<{ id: number }>;
    expect(waiting).to.have.length(3);
    const [first, second] = waiting.map((message) => String(message.id));
    expect((await runDrumbeat(['review', 'reject', second!, '--reason', 'off-brand'])).code).to.equal(0);
    expect((await runDrumbeat(['review', 'approve', first!, '--note', 'fine'])).code).to.equal(0);
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ QUEUED: 1, REJECTED: 1, PENDING_REVIEW: 1 });
    expect((await ledger(ctx, campaignId)).rows, 'nothing sent from review alone').to.equal(0);
  });
});
