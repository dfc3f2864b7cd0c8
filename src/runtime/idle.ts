import { allQueues, sendQueues } from '../../queues/index.js';
import { isInsideWindow } from '../campaigns/send-window.js';
import { capScopes, remainingCap } from '../messages/caps.js';
import { listActiveCampaigns } from '../campaigns/campaign-store.js';
import { readKillSwitch } from '../settings/kill-switch.js';
import { CAMPAIGN_LEADS, LIVE_ENROLLMENT_STATES } from '../enrollments/enrollment-lifecycle.js';
import type { AppContext } from './context.js';

/**
 * True when nothing can happen now: the kill switch is on, or no job is waiting or active in any
 * queue, no delayed send job is already due, and no enrollment is due in an ACTIVE campaign that
 * its window and cap would let through. Work held by a cap, a window or a future step delay does
 * not count.
 */
export async function isIdle(ctx: AppContext): Promise<boolean> {
  // The kill switch holds everything (its paused queues keep their waiting jobs): nothing can happen.
  if ((await readKillSwitch(ctx.db)).on) return true;
  for (const definition of allQueues) {
    const counts = await ctx.queues.get(definition).getJobCounts('waiting', 'active', 'prioritized', 'waiting-children');
    if (Object.values(counts).some((count) => count > 0)) return false;
  }
  const now = ctx.clock.now().getTime();
  for (const definition of Object.values(sendQueues)) {
    const [earliest] = await ctx.queues.get(definition).getJobs(['delayed'], 0, 0, true);
    if (earliest !== undefined && earliest.timestamp + earliest.delay <= now) return false;
  }
  for (const campaign of await listActiveCampaigns(ctx.db)) {
    if (!isInsideWindow(ctx.clock.now(), campaign.timezone, campaign.sendWindow)) continue;
    if ((await remainingCap(ctx.db, capScopes(ctx.config, campaign, null, ctx.clock.now()))) <= 0) continue;
    const due: unknown = await ctx.db(CAMPAIGN_LEADS)
      .where({ campaign_id: campaign.id })
      .whereIn('state', [...LIVE_ENROLLMENT_STATES])
      .where('next_action_at', '<=', ctx.clock.now())
      .first('id');
    if (due !== undefined) return false;
  }
  return true;
}
