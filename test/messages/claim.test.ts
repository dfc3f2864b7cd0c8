import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { claimForSending } from '../../src/messages/message-lifecycle.js';
import type { ChannelAdapter, OutboundMessage } from '../../src/channels/adapter.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, makeLeads, seedCampaign } from '../support/engine.js';

describe('claiming a message for sending', () => {
  let ctx: AppContext;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
  });

  afterEach(() => ctx.close());

  it('is a compare-and-set: a message is claimed once, a second claim gets nothing', async () => {
    ctx = engineContext();
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(1) });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    const { id } = (await ctx.db('messages').first('id')) as { id: number };
    const claim = { id, providerMessageId: null, unsubscribeTokenHash: null };
    expect([...(await claimForSending(ctx.db, [claim], new Date()))]).to.deep.equal([id]);
    expect([...(await claimForSending(ctx.db, [claim], new Date()))]).to.deep.equal([]);
    expect(((await ctx.db('messages').where({ id }).first('status', 'attempts')) as { status: string; attempts: number })).to.deep.equal({
      status: 'SENDING',
      attempts: 1,
    });
  });

  it('hands a message to the adapter once when two sends of it race', async () => {
    const calls: OutboundMessage[] = [];
    const adapter: ChannelAdapter = {
      provider: 'test',
      send(message) {
        calls.push(message);
        return Promise.resolve({ provider: 'test', externalId: `ext-${message.id}` });
      },
    };
    ctx = engineContext({ liveAdapters: { email: adapter } });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(1), spec: { mode: 'LIVE' } });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    const { id } = (await ctx.db('messages').first('id')) as { id: number };
    const attempt = { attemptsMade: 0, attempts: 3 };
    const decisions = await Promise.all([ctx.sends.send(id, attempt), ctx.sends.send(id, attempt), ctx.sends.send(id, attempt)]);
    expect(calls).to.have.length(1);
    expect(decisions.filter((decision) => decision.kind === 'delivered')).to.have.length(1);
  });
});
