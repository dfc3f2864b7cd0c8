import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { sendXQueue } from '../../queues/send-x.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import { startPlatformServer, type PlatformServer } from './platform-harness.js';

const dmSent = { status: 201, body: { data: { dm_conversation_id: 'c', dm_event_id: 'e' } } };
const xSpec = { mode: 'LIVE' as const, steps: [{ channel: 'x' as const, delay: '0s', body: 'Hi <%= it.lead.firstName %>' }] };

/** X DMs through real workers against a local server speaking X API v2. */
describe('LIVE social sends: a fault that is not the lead’s never consumes the lead', function () {
  this.timeout(30_000);
  let ctx: AppContext | undefined;
  let workers: RunningWorkers | undefined;
  let x: PlatformServer;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    x = await startPlatformServer(() => dmSent);
    ctx = engineContext({ env: { X_BEARER_TOKEN: 'x-bearer-token-secret', X_API_BASE_URL: x.url, HTTP_TIMEOUT: '1s' } });
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await ctx?.close();
    ctx = undefined;
    await x.close();
  });

  it('a 401 pauses the campaign with the platform’s answer: nothing DEAD, every message QUEUED with no attempt spent; resume sends once', async () => {
    const engine = ctx!;
    x.answer(() => ({ status: 401, body: { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' } }));
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(3), spec: xSpec });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => {
      const campaign = (await engine.db('campaigns').where({ id: campaignId }).first('status')) as { status: string };
      const counts = await engine.queues.get(sendXQueue).getJobCounts('active', 'waiting', 'delayed');
      return campaign.status === 'PAUSED' && counts.active === 0 && counts.waiting === 0 && counts.delayed === 3;
    }, 'PAUSED with every DM held');
    const rows = (await engine.db('messages').select('status', 'attempts')) as Array<{ status: string; attempts: number }>;
    expect(rows.map((row) => [row.status, row.attempts])).to.deep.equal([
      ['QUEUED', 0],
      ['QUEUED', 0],
      ['QUEUED', 0],
    ]);
    const campaign = (await engine.db('campaigns').where({ id: campaignId }).first('pause_reason', 'paused_by')) as { pause_reason: string; paused_by: string };
    expect(campaign.paused_by).to.equal('drumbeat');
    expect(campaign.pause_reason).to.match(/^x refused our credentials or app permissions \(HTTP 401: .*Unauthorized/);
    expect(campaign.pause_reason).to.not.include('x-bearer-token-secret');
    expect(await engine.db('campaign_leads').whereNot({ state: 'NEW' }).select('id')).to.deep.equal([]);

    x.answer(() => dmSent);
    const calledBefore = x.requests.length;
    await engine.campaigns.resume(campaignId);
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT === 3, 'three SENT after resume');
    expect(x.requests.length - calledBefore, 'each held DM sent once').to.equal(3);
  });

  it('a documented “cannot message this user” answer ends only that lead; the others are sent and the campaign stays ACTIVE', async () => {
    const engine = ctx!;
    x.answer((request) =>
      request.path.includes('/with/x-lead-1/')
        ? { status: 403, body: { title: 'Forbidden', type: 'about:blank', status: 403, detail: 'You are not permitted to send Direct Messages to this user.' } }
        : dmSent,
    );
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(3), spec: xSpec });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => {
      const counts = await statusCounts(engine, campaignId);
      return counts.SENT === 2 && counts.DEAD === 1;
    }, 'two SENT, one DEAD');
    const dead = (await engine.db('messages').where({ status: 'DEAD' }).first('recipient', 'last_error', 'attempts')) as { recipient: string; last_error: string; attempts: number };
    expect(dead).to.deep.include({ recipient: 'x-lead-1', attempts: 1 });
    expect(dead.last_error).to.include('x cannot deliver to this recipient (HTTP 403');
    const states = (await engine.db('campaign_leads as cl').join('leads as l', 'l.id', 'cl.lead_id').orderBy('l.email').pluck('cl.state')) as string[];
    expect(states).to.deep.equal(['COMPLETED', 'BOUNCED', 'COMPLETED']);
    expect(await engine.db('suppressions').select('id'), 'a refused DM says nothing about the email address').to.deep.equal([]);
    expect(((await engine.db('campaigns').where({ id: campaignId }).first('status')) as { status: string }).status).to.equal('ACTIVE');
  });
});
