import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { PermanentSendError } from '../../src/channels/adapter.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { unknownService } from '../../src/messages/unknown-service.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { resetQueueStore } from '../setup/hooks.js';
import { startApp } from '../http/http-harness.js';
import { eventually, freshEngine, runDrumbeat, seedCampaign, statusCounts } from '../support/engine.js';
import { brokenRelay, realPeople as people } from '../support/broken-relay.js';

/** An email relay that refuses every message permanently until it is fixed. */
const refusingRelay = () => brokenRelay(() => new PermanentSendError('554 5.7.1 relay access denied'));

describe('dead letters an operator can act on', function () {
  this.timeout(60_000);
  const relay = { current: refusingRelay() };
  let ownWorkers: RunningWorkers | undefined;
  // Registered before the engine's hooks, so these workers close before its context does: on
  // Postgres the context's queue pool waits, when it ends, for their LISTEN connection.
  afterEach(async () => {
    await ownWorkers?.close();
    ownWorkers = undefined;
  });
  const engine = freshEngine(() => {
    relay.current = refusingRelay();
    return { liveAdapters: { email: relay.current.adapter } };
  });
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  async function campaignStatus(campaignId: number): Promise<string> {
    return ((await ctx.db('campaigns').where({ id: campaignId }).first('status')) as { status: string }).status;
  }

  /** Ticks once more (a new slot) so that the campaign completes once nothing is left. */
  async function tickAgain(campaignId: number): Promise<string> {
    await ctx.ticks.runTick(campaignId, new Date(ctx.clock.now().getTime() + Math.floor(Math.random() * 1_000_000)));
    return campaignStatus(campaignId);
  }

  /** A LIVE campaign whose every message went DEAD through the broken relay, and then COMPLETED. */
  async function allDead(): Promise<{ campaignId: number; ids: number[] }> {
    const { campaignId } = await seedCampaign(ctx, { leads: people, spec: { mode: 'LIVE' } });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await eventually(async () => (await statusCounts(ctx, campaignId)).DEAD === 3, 'every message DEAD');
    expect(await tickAgain(campaignId), 'nothing is left to do').to.equal('COMPLETED');
    const ids = (await ctx.db('messages').where({ campaign_id: campaignId }).orderBy('id').pluck('id')) as number[];
    return { campaignId, ids };
  }

  it('lists DEAD messages with their error, and a retry of the campaign reopens it, sends each once and completes it again', async () => {
    await engine.startWorkers();
    const { campaignId, ids } = await allDead();
    expect(relay.current.calls).to.have.length(3);

    const listed = await runDrumbeat(['messages', 'dead', '--campaign', String(campaignId)]);
    expect(listed.code, listed.stderr).to.equal(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).to.equal('id\tcampaign\tstep\tchannel\trecipient\tattempts\tlast error');
    expect(lines.slice(1)).to.deep.equal(
      ids.map((id, index) => `${id}\t${campaignId}\t1\temail\t${people[index]?.email}\t1\tPermanentSendError: 554 5.7.1 relay access denied`),
    );
    const json = JSON.parse((await runDrumbeat(['messages', 'dead', '--json'])).stdout) as Array<{ id: number; step: number; lastError: string }>;
    expect(json.map((message) => [message.id, message.step])).to.deep.equal(ids.map((id) => [id, 1]));

    relay.current.fix();
    const retried = await runDrumbeat(['messages', 'retry', '--campaign', String(campaignId), '--all']);
    expect(retried.code, retried.stderr).to.equal(0);
    expect(retried.stdout.trim()).to.equal(`queued 3 DEAD message(s) again (campaign ${campaignId} reopened: ACTIVE)`);
    expect(await campaignStatus(campaignId)).to.be.oneOf(['ACTIVE', 'COMPLETED']);

    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 3, 'all three sent');
    expect(relay.current.calls, 'three failures, then each message once').to.have.length(6);
    expect(relay.current.calls.slice(3).map((call) => call.recipient).sort()).to.deep.equal(people.map((person) => person.email).sort());
    const enrollments = (await ctx.db('campaign_leads').where({ campaign_id: campaignId }).pluck('state')) as string[];
    expect(enrollments).to.deep.equal(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect(await tickAgain(campaignId)).to.equal('COMPLETED');
    expect((await runDrumbeat(['messages', 'dead', '--campaign', String(campaignId)])).stdout.trim()).to.equal('no DEAD messages');
  });

  it('a Bull Board retry of a DEAD message whose campaign is COMPLETED fails with the reason and sends nothing', async () => {
    await engine.startWorkers();
    const { campaignId, ids } = await allDead();
    const [first] = ids as [number];
    const key = ((await ctx.db('messages').where({ id: first }).first('idempotency_key')) as { idempotency_key: string }).idempotency_key;
    const job = await ctx.queues.get(sendEmailQueue).getJob(key);
    expect(await job?.getState()).to.equal('failed');
    relay.current.fix();

    await job?.retry('failed');
    const reason = await eventually(async () => {
      const again = await ctx.queues.get(sendEmailQueue).getJob(key);
      const state = await again?.getState();
      return state === 'failed' && again?.failedReason !== 'PermanentSendError: 554 5.7.1 relay access denied' ? again?.failedReason : undefined;
    }, 'the retried job to fail again');
    expect(reason).to.equal(`not sent: campaign ${campaignId} is COMPLETED; run "drumbeat messages retry ${first}" to reopen it`);
    expect(((await ctx.db('messages').where({ id: first }).first('status')) as { status: string }).status).to.equal('DEAD');
    expect(relay.current.calls, 'no adapter call for the retry').to.have.length(3);
    expect(await campaignStatus(campaignId)).to.equal('COMPLETED');
  });

  it('after a Redis flush, messages dead still lists them and retry still sends them', async () => {
    ownWorkers = await startWorkers(ctx, undefined, { schedule: false });
    const { campaignId, ids } = await allDead();
    await ownWorkers.close();
    ownWorkers = undefined;
    await resetQueueStore();
    const keys = (await ctx.db('messages').where({ campaign_id: campaignId }).pluck('idempotency_key')) as string[];
    for (const key of keys) expect(await ctx.queues.get(sendEmailQueue).getJob(key), 'the failed jobs are gone').to.equal(undefined);

    const listed = await runDrumbeat(['messages', 'dead']);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout.trim().split('\n').slice(1).map((line) => Number(line.split('\t')[0]))).to.deep.equal(ids);

    relay.current.fix();
    ownWorkers = await startWorkers(ctx, undefined, { schedule: false });
    const retried = await runDrumbeat(['messages', 'retry', ...ids.map(String)]);
    expect(retried.code, retried.stderr).to.equal(0);
    expect(retried.stdout.trim()).to.equal(`queued 3 DEAD message(s) again (campaign ${campaignId} reopened: ACTIVE)`);
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 3, 'all three sent after the flush');
    expect(relay.current.calls).to.have.length(6);
  });

  it('the admin API lists DEAD messages and retries a whole campaign', async () => {
    await engine.startWorkers();
    const { campaignId, ids } = await allDead();
    const app = await startApp({ config: ctx.config, db: ctx.db, apiRoutes: (router) => apiRoutes(router, ctx) });
    try {
      const headers = { authorization: `Bearer ${(await createApiToken(ctx.db, 'ops')).token}`, 'content-type': 'application/json' };
      const listed = await fetch(app.url(`/api/messages/dead?campaign=${campaignId}`), { headers });
      expect(listed.status).to.equal(200);
      const { messages } = (await listed.json()) as { messages: Array<{ id: number; step: number; recipient: string; lastError: string }> };
      expect(messages.map((message) => [message.id, message.step, message.recipient, message.lastError])).to.deep.equal(
        ids.map((id, index) => [id, 1, people[index]?.email, 'PermanentSendError: 554 5.7.1 relay access denied']),
      );

      relay.current.fix();
      const retried = await fetch(app.url('/api/messages/retry'), { method: 'POST', headers, body: JSON.stringify({ campaignId, all: true }) });
      expect(retried.status).to.equal(200);
      expect(await retried.json()).to.deep.equal({
        queued: ids,
        leadsReopened: [],
        campaignsReopened: [{ id: campaignId, status: 'ACTIVE' }],
        campaignsPaused: [],
        refused: [],
        notDead: [],
        missing: [],
      });
      await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 3, 'all three sent');
    } finally {
      await app.close();
    }
  });

  it('reopens a lead that ended FAILED on the message, refuses a bounced one by name, and leaves other messages alone', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: people, spec: { mode: 'LIVE' } });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await ctx.queues.get(sendEmailQueue).drain(true);
    const [failedId, bouncedId, sentId] = (await ctx.db('messages').where({ campaign_id: campaignId }).orderBy('id').pluck('id')) as [number, number, number];
    // One UNKNOWN resolved as failed (DEAD, its lead FAILED); one DEAD whose lead then bounced; one SENT.
    await ctx.db('messages').where({ id: failedId }).update({ status: 'UNKNOWN', last_error: 'timeout after DATA' });
    await unknownService(ctx).resolve([failedId], 'failed', 'ops');
    await ctx.db('messages').where({ id: bouncedId }).update({ status: 'DEAD', last_error: '550 no such user' });
    await ctx.db('campaign_leads').whereIn('id', ctx.db('messages').where({ id: bouncedId }).select('enrollment_id')).update({ state: 'BOUNCED' });
    await ctx.db('messages').where({ id: sentId }).update({ status: 'SENT' });

    const nothing = await runDrumbeat(['messages', 'retry', String(bouncedId), String(sentId), '999999']);
    expect(nothing.code, 'nothing could be retried').to.equal(1);
    expect(nothing.stdout.trim().split('\n')).to.deep.equal([
      `queued 0 DEAD message(s) again; left DEAD: 1; not DEAD, left alone: ${sentId} (SENT); no such message: 999999`,
      `  message ${bouncedId} left DEAD: the lead is BOUNCED in campaign ${campaignId}; its sequence is not reopened`,
    ]);

    relay.current.fix();
    await engine.startWorkers();
    const reopened = await runDrumbeat(['messages', 'retry', String(failedId)]);
    expect(reopened.code, reopened.stderr).to.equal(0);
    expect(reopened.stdout.trim()).to.equal('queued 1 DEAD message(s) again');
    await eventually(async () => ((await ctx.db('messages').where({ id: failedId }).first('status')) as { status: string }).status === 'SENT', 'the reopened one sent');
    const states = (await ctx.db('campaign_leads as cl').join('messages as m', 'm.enrollment_id', 'cl.id').orderBy('m.id').pluck('cl.state')) as string[];
    expect(states, 'the SENT one was set by hand and its lead left waiting').to.deep.equal(['COMPLETED', 'BOUNCED', 'NEW']);
    expect(relay.current.calls.map((call) => call.id)).to.deep.equal([failedId]);
  });
});
