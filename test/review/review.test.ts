import { expect } from 'chai';
import { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { enqueueSends } from '../../src/messages/enqueue-sends.js';
import { CampaignStateError } from '../../src/orchestration/campaign-service.js';
import { parseCampaignSpec } from '../../src/campaigns/campaign-spec.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { startApp, type RunningApp } from '../http/http-harness.js';
import { eventually, freshEngineWithClock, ledger, makeLeads, seedCampaign, specFor, statusCounts } from '../support/engine.js';

describe('review gate', function () {
  this.timeout(30_000);
  const engine = freshEngineWithClock();
  const { clock } = engine;
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  const twoSteps = {
    requireReview: true,
    steps: [
      { channel: 'email' as const, subject: 'Hi <%= it.lead.firstName %>', body: 'One for <%= it.lead.firstName %>' },
      { channel: 'email' as const, delay: '1h', body: 'Two' },
    ],
  };

  async function pendingIds(campaignId: number): Promise<number[]> {
    return (await ctx.reviews.list({ campaignId })).map((message) => message.id);
  }

  it('a requireReview campaign sends nothing until approval, then exactly the approved and edited text, once', async () => {
    const { campaignId } = await seedCampaign(ctx, { spec: twoSteps, leads: makeLeads(3) });
    await engine.startWorkers();
    const tick = await ctx.ticks.runTick(campaignId, clock.now());
    expect(tick).to.include({ heldForReview: 3, enqueued: 0 });
    const waiting = await ctx.reviews.list({ campaignId });
    expect(waiting.map((message) => message.body)).to.deep.equal(['One for First0', 'One for First1', 'One for First2']);
    expect(waiting[0]).to.include({ step: 1, subject: 'Hi First0', recipient: 'lead-0@example.com' });
    expect(await ctx.queues.get(sendEmailQueue).count()).to.equal(0);
    expect((await ledger(ctx, campaignId)).rows).to.equal(0);

    const [first, second, third] = waiting.map((message) => message.id) as [number, number, number];
    await expect(ctx.reviews.edit(first, { body: 'Dear [FIRST NAME], hello' }, 'alice'), 'an edit is re-checked').to.be.rejectedWith('[PLACEHOLDER]');
    expect((await ctx.reviews.list({ campaignId }))[0]?.body, 'a refused edit changes nothing').to.equal('One for First0');
    await ctx.reviews.edit(first, { subject: 'Edited subject', body: 'Edited by a human' }, 'alice');

    const outcome = await ctx.reviews.approve([first, second], { by: 'alice', note: 'looks right' });
    expect(outcome).to.deep.include({ done: [first, second], refused: [], enqueued: 2 });
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 2, 'the two approved messages sent');
    expect((await statusCounts(ctx, campaignId)).PENDING_REVIEW).to.equal(1);
    const sent = (await ctx.db('proof_deliveries').orderBy('message_id').select('message_id', 'subject', 'body')) as Array<{ message_id: number; subject: string; body: string }>;
    expect(sent).to.deep.equal([
      { message_id: first, subject: 'Edited subject', body: 'Edited by a human' },
      { message_id: second, subject: 'Hi First1', body: 'One for First1' },
    ]);
    const decided = (await ctx.db('messages').where({ id: first }).first('review_decided_by', 'review_note', 'review_decided_at')) as Record<string, unknown>;
    expect(decided).to.include({ review_decided_by: 'alice', review_note: 'looks right' });
    expect((decided.review_decided_at as Date).getTime()).to.equal(clock.now().getTime());
    const audit = (await ctx.db('contact_events').where({ message_id: first }).orderBy('id').pluck('type')) as string[];
    expect(audit).to.deep.equal(['review.edited', 'review.approved']);

    const again = await ctx.reviews.approve([first], { by: 'bob' });
    expect(again.refused).to.deep.equal([{ id: first, reason: 'message is SENT_PROOF, not PENDING_REVIEW' }]);
    expect(await pendingIds(campaignId)).to.deep.equal([third]);
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 2, distinct: 2 });
  });

  it('holds a message with placeholders for review with the reason, and will not approve it until edited', async () => {
    const { campaignId } = await seedCampaign(ctx, {
      leads: [{ email: 'x@example.com', firstName: 'X', custom: { note: 'TBD' } }],
      spec: { requireReview: true, customFields: ['note'], steps: [{ channel: 'email', subject: 'Hi', body: 'Price: <%= it.lead.custom.note %>' }] },
    });
    await ctx.ticks.runTick(campaignId, clock.now());
    const [held] = await ctx.reviews.list({ campaignId });
    expect(held?.heldReason).to.equal('placeholder left in output: TBD in body: "Price: TBD"');
    const refused = await ctx.reviews.approve([held!.id], { by: 'alice' });
    expect(refused.done).to.deep.equal([]);
    expect(refused.refused[0]?.reason).to.include('TBD in body');
    await ctx.reviews.edit(held!.id, { body: 'Price: 10 EUR' }, 'alice');
    expect((await ctx.reviews.approve([held!.id], { by: 'alice' })).done).to.deep.equal([held!.id]);
  });

  it('a rejected message is never sent; the lead skips that step (SKIP_STEP) or ends (END_LEAD)', async () => {
    const skip = await seedCampaign(ctx, { spec: twoSteps, leads: makeLeads(2, 'skip') });
    const end = await seedCampaign(ctx, { spec: { ...twoSteps, onReject: 'END_LEAD' }, leads: makeLeads(1, 'end') });
    await engine.startWorkers();
    await ctx.ticks.runTick(skip.campaignId, clock.now());
    await ctx.ticks.runTick(end.campaignId, clock.now());
    await expect(ctx.reviews.reject(await pendingIds(skip.campaignId), { by: 'bob', reason: '  ' })).to.be.rejectedWith('needs a reason');
    const rejected = await ctx.reviews.reject([...(await pendingIds(skip.campaignId)), ...(await pendingIds(end.campaignId))], { by: 'bob', reason: 'off-brand' });
    expect(rejected.done).to.have.length(3);

    const enrollments = (await ctx.db('campaign_leads').orderBy('id').select('campaign_id', 'state', 'current_step', 'next_action_at', 'end_reason')) as Array<{
      campaign_id: number;
      state: string;
      current_step: number;
      next_action_at: Date | null;
      end_reason: string | null;
    }>;
    const skipped = enrollments.filter((row) => row.campaign_id === skip.campaignId);
    expect(skipped.map((row) => [row.state, row.current_step, row.next_action_at?.getTime()])).to.deep.equal([
      ['ACTIVE', 1, clock.now().getTime() + 3_600_000],
      ['ACTIVE', 1, clock.now().getTime() + 3_600_000],
    ]);
    expect(enrollments.find((row) => row.campaign_id === end.campaignId)).to.include({ state: 'COMPLETED', end_reason: 'rejected in review: off-brand' });
    // The reviewer's reason has its own column; the skip reason and the reviewer's note stay empty.
    const row = (await ctx.db('messages')
      .where({ campaign_id: skip.campaignId })
      .first('status', 'review_decided_by', 'rejection_reason', 'review_note', 'skip_reason')) as Record<string, unknown>;
    expect(row).to.deep.equal({ status: 'REJECTED', review_decided_by: 'bob', rejection_reason: 'off-brand', review_note: null, skip_reason: null });

    // The next step comes after its delay, held for review again; the rejected step never goes out.
    clock.advance(3_600_001);
    expect((await ctx.ticks.runTick(skip.campaignId, clock.now())).heldForReview).to.equal(2);
    expect((await ctx.ticks.runTick(end.campaignId, clock.now())).created).to.equal(0);
    expect((await ledger(ctx, skip.campaignId)).rows + (await ledger(ctx, end.campaignId)).rows).to.equal(0);
  });

  it('a forced job for an unapproved message sends nothing: added by hand, promoted, or retried', async () => {
    const { campaignId } = await seedCampaign(ctx, { spec: twoSteps, leads: makeLeads(2) });
    await ctx.ticks.runTick(campaignId, clock.now());
    const [pending, toReject] = (await ctx.db('messages').where({ campaign_id: campaignId }).orderBy('id')) as Array<{ id: number; idempotency_key: string; channel: 'email' }>;
    await ctx.reviews.reject([toReject!.id], { by: 'bob', reason: 'no' });
    const queue = ctx.queues.get(sendEmailQueue);
    // By hand with the real key (as the reconciler would), by hand with another id, and a delayed job promoted from the board.
    await enqueueSends(ctx.queues, ctx.config, [pending!, toReject!]);
    await queue.add(sendEmailQueue.jobName, { messageId: pending!.id }, { jobId: 'forced-by-hand' });
    const delayed = await queue.add(sendEmailQueue.jobName, { messageId: toReject!.id }, { jobId: 'forced-delayed', delay: 3_600_000 });
    await engine.startWorkers();
    await delayed.promote();
    await eventually(async () => (await queue.getJobCounts('completed')).completed === 4, 'the four forced jobs to finish');
    const results = (await queue.getJobs(['completed'])).map((job) => job.returnvalue as { kind: string });
    expect(results.map((result) => result.kind)).to.deep.equal(['not-deliverable', 'not-deliverable', 'not-deliverable', 'not-deliverable']);
    // Retried from the board after completing: still re-checked against the database.
    const completed = await Job.fromId(queue, pending!.idempotency_key);
    await completed!.retry('completed');
    await eventually(async () => (await completed!.getState()) === 'completed' && (await queue.getJobCounts('completed')).completed === 4, 'the retried job to finish');
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ PENDING_REVIEW: 1, REJECTED: 1 });
    expect((await ledger(ctx, campaignId)).rows).to.equal(0);
    expect(await ctx.db('messages').sum('attempts as attempts')).to.deep.equal([{ attempts: 0 }]);
  });

  it('requires strategy approval to start; rejection needs a reason; editing the sequence returns it to DRAFT', async () => {
    const { campaignId } = await seedCampaign(ctx, { start: false });
    await expect(ctx.campaigns.start(campaignId)).to.be.rejectedWith(CampaignStateError, 'approve it before starting');
    await ctx.campaigns.reject(campaignId, 'too aggressive', 'carol');
    await expect(ctx.campaigns.start(campaignId)).to.be.rejectedWith(CampaignStateError, 'strategy REJECTED');
    const approved = await ctx.campaigns.approve(campaignId, 'ok now', 'carol');
    expect(approved).to.include({ strategyStatus: 'APPROVED', strategyNote: 'ok now' });

    const edited = parseCampaignSpec(specFor({ steps: [{ channel: 'email', subject: 'New', body: 'New text <%= it.lead.firstName %>' }] }));
    const drafted = await ctx.campaigns.editSequence(campaignId, edited, 'dave');
    expect(drafted.strategyStatus).to.equal('DRAFT');
    await expect(ctx.campaigns.start(campaignId)).to.be.rejectedWith(CampaignStateError, 'strategy DRAFT');
    expect(((await ctx.db('campaign_steps').where({ campaign_id: campaignId }).pluck('body')) as string[])).to.deep.equal(['New text <%= it.lead.firstName %>']);

    await ctx.campaigns.approve(campaignId, 'again', 'carol');
    await ctx.campaigns.start(campaignId);
    await expect(ctx.campaigns.editSequence(campaignId, edited, 'dave'), 'a running sequence is not edited').to.be.rejectedWith(CampaignStateError, 'pause it');
    await ctx.campaigns.pause(campaignId);
    await ctx.campaigns.editSequence(campaignId, edited, 'dave');
    await expect(ctx.campaigns.resume(campaignId)).to.be.rejectedWith(CampaignStateError, 'approve it before resuming');
  });

  describe('admin JSON API', () => {
    let app: RunningApp;
    let auth: Record<string, string>;

    beforeEach(async () => {
      app = await startApp({ db: ctx.db, apiRoutes: (router) => apiRoutes(router, ctx) });
      const { token } = await createApiToken(ctx.db, 'reviewer');
      auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    });

    afterEach(() => app.close());

    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(app.url(path), { method, headers: auth, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    };

    it('lists, edits (re-checked), approves and rejects review messages, previews steps and manages templates', async () => {
      const bad = await call('POST', '/api/templates', { name: 'intro', channel: 'email', subject: 'Hi', body: 'Hi\n<%= it.lead.nick %>' });
      expect(bad.status).to.equal(400);
      expect(bad.json.error).to.equal('body line 2: unknown variable it.lead.nick (lead fields: email, firstName, lastName, company, custom.<name>)');
      const created = await call('POST', '/api/templates', { name: 'intro', channel: 'email', subject: 'Hi', body: 'Hi <%= it.lead.firstName %>' });
      expect(created.status).to.equal(201);
      const templateId = (created.json.template as { id: number }).id;
      expect((await call('PUT', `/api/templates/${templateId}`, { body: 'Hello <%= it.lead.firstName %>' })).json.version).to.include({ version: 2, createdBy: 'api:reviewer' });
      expect(((await call('GET', '/api/templates')).json.templates as unknown[]).length).to.equal(1);

      const { campaignId } = await seedCampaign(ctx, { spec: { requireReview: true, steps: [{ channel: 'email', template: 'intro' }] }, leads: makeLeads(2) });
      const preview = await call('GET', `/api/campaigns/${campaignId}/preview?lead=lead-1@example.com&step=1`);
      expect(preview.json.preview).to.include({ body: 'Hello First1', subject: 'Hi', sendable: true, step: 1 });
      expect((await call('GET', `/api/campaigns/${campaignId}/preview?lead=lead-1@example.com&step=9`)).status).to.equal(404);

      await ctx.ticks.runTick(campaignId, clock.now());
      const listed = (await call('GET', `/api/review?campaign=${campaignId}`)).json.messages as Array<{ id: number; body: string }>;
      expect(listed.map((message) => message.body)).to.deep.equal(['Hello First0', 'Hello First1']);
      const [first, second] = listed as unknown as [{ id: number }, { id: number }];
      expect((await call('PUT', `/api/review/${first.id}`, { body: 'Hi {{name}}' })).status).to.equal(400);
      expect((await call('PUT', `/api/review/${first.id}`, { body: 'Hi there' })).json.message).to.include({ body: 'Hi there' });
      expect((await call('POST', `/api/review/${first.id}/approve`, { note: 'fine' })).json).to.deep.include({ done: [first.id], enqueued: 1 });
      expect((await call('POST', `/api/review/${second.id}/reject`, {})).status).to.equal(400);
      expect((await call('POST', `/api/review/${second.id}/reject`, { reason: 'tone' })).json).to.deep.include({ done: [second.id] });
      expect((await call('POST', `/api/review/${second.id}/approve`, {})).status, 'a decided message cannot be approved').to.equal(409);
      expect(await statusCounts(ctx, campaignId)).to.deep.equal({ QUEUED: 1, REJECTED: 1 });
      const decided = (await ctx.db('messages').orderBy('id').pluck('review_decided_by')) as string[];
      expect(decided).to.deep.equal(['token:reviewer', 'token:reviewer']);

      expect((await call('POST', `/api/campaigns/${campaignId}/pause`)).status).to.equal(200);
      expect((await call('POST', `/api/campaigns/${campaignId}/reject`, {})).status).to.equal(400);
      expect((await call('POST', `/api/campaigns/${campaignId}/reject`, { reason: 'stop' })).json.campaign).to.include({ strategyStatus: 'REJECTED', strategyNote: 'stop' });
    });
  });
});
