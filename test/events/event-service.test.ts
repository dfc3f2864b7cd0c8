import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { eventService } from '../../src/events/event-service.js';
import { inboxService } from '../../src/events/inbox-service.js';
import type { InboxEventInput } from '../../src/events/feedback-event.js';
import { eventsQueue } from '../../queues/events.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, makeLeads, seedCampaign } from '../support/engine.js';
import { clockNow } from '../support/clock.js';

describe('inbox events: store once, apply once', function () {
  this.timeout(20_000);
  let ctx: AppContext;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    ctx = engineContext({ clock: clockNow() });
  });

  afterEach(async () => {
    await ctx.close();
  });

  const complaint = (eventId: string): InboxEventInput => ({
    provider: 'drumbeat',
    eventId,
    payload: {
      type: 'complained',
      email: 'lead-0@example.com',
      occurredAt: new Date(ctx.clock.now().getTime() - 60_000).toISOString(),
      messageRefs: [],
      campaignId: null,
      bounce: null,
      data: {},
    },
  });

  it('applies an event once even when its job runs twice at the same time', async () => {
    await seedCampaign(ctx, { leads: makeLeads(1) });
    const inbox = inboxService(ctx);
    await inbox.store([complaint('c-1')]);
    const [{ id }] = (await ctx.db('inbox_events').select('id')) as [{ id: number }];
    const events = eventService(ctx);
    const results = await Promise.all([events.apply(id), events.apply(id), events.apply(id)]);
    expect(results.map((result) => result.outcome).sort()).to.deep.equal(['already-applied', 'already-applied', 'applied']);
    expect(await ctx.db('contact_events').select('id')).to.have.length(1);
    expect(await ctx.db('unsubscribes').select('id')).to.have.length(1);
  });

  it('stores the same event once when two deliveries race, with one apply job', async () => {
    const inbox = inboxService(ctx);
    const outcomes = await Promise.all([inbox.store([complaint('c-2')]), inbox.store([complaint('c-2')]), inbox.store([complaint('c-2'), complaint('c-2')])]);
    expect(outcomes.reduce((sum, outcome) => sum + outcome.stored, 0)).to.equal(1);
    expect(outcomes.reduce((sum, outcome) => sum + outcome.duplicates, 0)).to.equal(3);
    expect(await ctx.db('inbox_events').select('id')).to.have.length(1);
    expect(await ctx.queues.get(eventsQueue).getJobCounts('waiting')).to.deep.equal({ waiting: 1 });
  });

  it('re-enqueues a stored but unapplied event on redelivery after Redis lost its job', async () => {
    const inbox = inboxService(ctx);
    await inbox.store([complaint('c-3')]);
    await resetQueueStore();
    expect(await ctx.queues.get(eventsQueue).getJobCounts('waiting')).to.deep.equal({ waiting: 0 });
    const again = await inbox.store([complaint('c-3')]);
    expect(again).to.deep.equal({ stored: 0, duplicates: 1, deferred: 0 });
    expect(await ctx.queues.get(eventsQueue).getJobCounts('waiting'), 'the redelivery restored the job').to.deep.equal({ waiting: 1 });
    await resetQueueStore();
    expect(await inbox.requeueUnapplied()).to.equal(1);
  });
});
