import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { readKillSwitch, setKillSwitch } from '../../src/settings/kill-switch.js';
import { campaignTickQueue } from '../../queues/campaign-tick.js';
import { publishQueues, sendQueues } from '../../queues/index.js';
import { freshEngine, runDrumbeat } from '../support/engine.js';

const governed = [campaignTickQueue, ...Object.values(sendQueues), ...Object.values(publishQueues)];

describe('kill switch and queues paused by hand', function () {
  this.timeout(60_000);
  const engine = freshEngine();
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  async function pausedQueues(): Promise<string[]> {
    const paused: string[] = [];
    for (const definition of governed) if (await ctx.queues.get(definition).isPaused()) paused.push(definition.name);
    return paused.sort();
  }

  it('kill off resumes only the queues kill on paused, never one an operator paused by hand', async () => {
    await ctx.queues.get(sendQueues.x).pause();
    const on = await runDrumbeat(['kill', 'on']);
    expect(on.code, on.stderr).to.equal(0);
    expect(on.stdout).to.equal('kill switch is ON: no adapter is called\n');
    expect(await pausedQueues()).to.deep.equal(governed.map((definition) => definition.name).sort());
    const state = await readKillSwitch(ctx.db);
    expect(state.pausedQueues, 'the hand-paused queue is not the switch’s').to.deep.equal(
      governed.map((definition) => definition.name).filter((name) => name !== 'send-x').sort(),
    );

    // Turning it on again changes nothing it recorded.
    await setKillSwitch(ctx, true, 'test');
    expect((await readKillSwitch(ctx.db)).pausedQueues).to.deep.equal(state.pausedQueues);

    const off = await runDrumbeat(['kill', 'off']);
    expect(off.code, off.stderr).to.equal(0);
    expect(off.stdout).to.equal('kill switch is off\n');
    expect(await pausedQueues(), 'the queue paused by hand stays paused').to.deep.equal(['send-x']);
    expect((await readKillSwitch(ctx.db)).pausedQueues).to.deep.equal([]);
  });

  it('kill off without a kill on before it resumes nothing', async () => {
    await ctx.queues.get(sendQueues.email).pause();
    await setKillSwitch(ctx, false, 'test');
    expect(await pausedQueues()).to.deep.equal(['send-email']);
  });

  it('a switch turned on before it recorded its queues resumes every queue it governs when turned off', async () => {
    for (const definition of governed) await ctx.queues.get(definition).pause();
    await ctx.db('settings').insert({ key: 'kill_switch', value: JSON.stringify({ on: true }), updated_at: ctx.clock.now(), updated_by: 'before' });
    await setKillSwitch(ctx, false, 'test');
    expect(await pausedQueues()).to.deep.equal([]);
  });
});
