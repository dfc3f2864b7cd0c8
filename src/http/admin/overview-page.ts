import type { Router } from 'express';
import type { HttpContext } from '../http-context.js';
import { allQueues } from '../../../queues/index.js';
import { operationsOverview } from '../../analytics/operations-overview.js';
import type { BreakerState } from '../../channels/resilience/breakers.js';
import { pageRoute } from './page-route.js';
import { renderAdminPage } from './render.js';

/** One queue's backlog as the overview lists it. */
export interface QueueHealth {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  paused: boolean;
}

/** Every queue's counts from Redis; undefined while Redis cannot be reached (the page says so). */
async function queueHealth(ctx: Pick<HttpContext, 'queues'>): Promise<QueueHealth[] | undefined> {
  try {
    return await Promise.all(
      allQueues.map(async (definition) => {
        const queue = ctx.queues.get(definition);
        const [counts, paused] = await Promise.all([queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'), queue.isPaused()]);
        return {
          name: definition.name,
          waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
          active: counts.active ?? 0,
          delayed: counts.delayed ?? 0,
          failed: counts.failed ?? 0,
          paused,
        };
      }),
    );
  } catch {
    return undefined;
  }
}

async function breakerStates(ctx: Pick<HttpContext, 'breakerStates'>): Promise<BreakerState[] | undefined> {
  try {
    return await ctx.breakerStates.read();
  } catch {
    return undefined;
  }
}

/**
 * `GET /admin`, the landing page after sign-in: today's sends per channel, replies and bounces;
 * each queue's backlog and failures (linked to Bull Board); the circuit breakers; and the
 * campaigns that need a person. Redis figures degrade to a sentence while Redis is down.
 */
export function overviewPage(router: Router, ctx: HttpContext): void {
  router.get(
    '/',
    pageRoute(async (_req, res) => {
      const [overview, queues, breakers] = await Promise.all([operationsOverview(ctx.db, ctx.clock.now()), queueHealth(ctx), breakerStates(ctx)]);
      renderAdminPage(res, 'overview', { title: 'Overview', section: 'overview', overview, queues, breakers });
    }),
  );
}
