import { allQueues, sendQueues } from '../../queues/index.js';
import { campaignGate, hasDueEnrollment } from '../orchestration/campaign-gate.js';
import { listActiveCampaigns } from '../campaigns/campaign-store.js';
import { readKillSwitch } from '../settings/kill-switch.js';
import type { AppContext } from './context.js';

/**
 * True when nothing can happen now: the kill switch is on, or no job is waiting or active in any
 * queue, no delayed send job is already due, and no ACTIVE campaign has an enrollment due that
 * its tick would take now (the tick's own gate: window and cap). Work held by a cap, a window or
 * a future step delay does not count.
 */
export async function isIdle(ctx: AppContext): Promise<boolean> {
  // The kill switch holds everything (its paused queues keep their waiting jobs): nothing can happen.
  if ((await readKillSwitch(ctx.db)).on) return true;
  for (const definition of allQueues) {
    const counts = await ctx.queues.get(definition).getJobCounts('waiting', 'active', 'prioritized', 'waiting-children');
    if (Object.values(counts).some((count) => count > 0)) return false;
  }
  const now = ctx.clock.now();
  for (const definition of Object.values(sendQueues)) {
    const [earliest] = await ctx.queues.get(definition).getJobs(['delayed'], 0, 0, true);
    if (earliest !== undefined && earliest.timestamp + earliest.delay <= now.getTime()) return false;
  }
  for (const campaign of await listActiveCampaigns(ctx.db)) {
    // The switch was read off just above.
    const gate = await campaignGate(ctx, campaign, now, { killSwitchOn: false });
    if (gate.kind === 'open' && (await hasDueEnrollment(ctx.db, campaign.id, now))) return false;
  }
  return true;
}
