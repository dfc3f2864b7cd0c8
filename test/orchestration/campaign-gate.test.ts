import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { campaignGate, hasDueEnrollment } from '../../src/orchestration/campaign-gate.js';
import { findCampaign, type Campaign } from '../../src/campaigns/campaign-store.js';
import { nextLocalMidnight } from '../../src/campaigns/send-window.js';
import { isIdle } from '../../src/runtime/idle.js';
import { setKillSwitch } from '../../src/settings/kill-switch.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, makeLeads, seedCampaign } from '../support/engine.js';
import { clockOnNext } from '../support/clock.js';

describe('campaign gate', function () {
  this.timeout(20_000);
  let ctx: AppContext | undefined;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
  });

  afterEach(async () => {
    await ctx?.close();
    ctx = undefined;
  });

  it('holds a campaign as its tick does (kill switch, send window, daily cap until its reset, not ACTIVE), and the idle check follows it', async () => {
    const clock = clockOnNext('mon', '10:00', 'Europe/Dublin');
    const engine = engineContext({ clock });
    ctx = engine;
    const { campaignId } = await seedCampaign(engine, {
      leads: makeLeads(3),
      spec: { timezone: 'Europe/Dublin', dailyCap: 5, sendWindow: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' } },
    });
    const campaign = async (): Promise<Campaign> => (await findCampaign(engine.db, campaignId))!;
    let slot = 0;
    /** The gate now, what a tick now records, and whether the idle check (asked first) calls it idle. */
    async function decide() {
      const gate = await campaignGate(engine, await campaign(), clock.now());
      const idle = await isIdle(engine);
      slot += 1;
      const tick = await engine.ticks.runTick(campaignId, new Date(clock.now().getTime() + slot));
      return { gate, idle, outcome: tick.outcome };
    }

    expect(await hasDueEnrollment(engine.db, campaignId, clock.now())).to.equal(true);
    await setKillSwitch(engine, true, 'test');
    expect(await decide()).to.deep.equal({ gate: { kind: 'killed' }, idle: true, outcome: 'killed' });
    await setKillSwitch(engine, false, 'test');

    clock.setAt(0, '17:30');
    expect(await decide()).to.deep.equal({ gate: { kind: 'outside-window' }, idle: true, outcome: 'outside-window' });

    clock.setAt(0, '10:00');
    await engine.db('send_counters').insert({ scope: `campaign-${campaignId}`, day: clock.day(), used: 5 });
    expect(await decide()).to.deep.equal({ gate: { kind: 'capped', until: nextLocalMidnight(clock.now(), 'Europe/Dublin') }, idle: true, outcome: 'capped' });

    await engine.db('send_counters').where({ scope: `campaign-${campaignId}` }).update({ used: 1 });
    expect(await decide(), 'the three due leads fit in what the cap leaves').to.deep.equal({ gate: { kind: 'open', capLeft: 4 }, idle: false, outcome: 'done' });

    await engine.campaigns.pause(campaignId);
    expect(await campaignGate(engine, await campaign(), clock.now())).to.deep.equal({ kind: 'not-active' });
    expect((await engine.ticks.runTick(campaignId, new Date(clock.now().getTime() + 100))).outcome).to.equal('not-active');
  });

  it('counts an enrollment as due only when it is live and its next action has come', async () => {
    const clock = clockOnNext('mon', '10:00');
    const engine = engineContext({ clock });
    ctx = engine;
    const { campaignId, leadIds } = await seedCampaign(engine, { leads: makeLeads(2), start: false });
    expect(await hasDueEnrollment(engine.db, campaignId, clock.now())).to.equal(true);
    await engine.db('campaign_leads').where({ campaign_id: campaignId, lead_id: leadIds[0] }).update({ next_action_at: clock.after(60_000) });
    await engine.db('campaign_leads').where({ campaign_id: campaignId, lead_id: leadIds[1] }).update({ next_action_at: null });
    expect(await hasDueEnrollment(engine.db, campaignId, clock.now()), 'one later, one waiting on its message').to.equal(false);
    await engine.db('campaign_leads').where({ campaign_id: campaignId, lead_id: leadIds[0] }).update({ next_action_at: clock.now(), state: 'REPLIED' });
    expect(await hasDueEnrollment(engine.db, campaignId, clock.now()), 'its sequence is over').to.equal(false);
  });
});
