import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from './http-context.js';
import { DomainError, NotFoundError } from '../core/domain-error.js';
import { deadLetterService, describeRefusals } from '../messages/dead-letter-service.js';
import { apiActions } from './api-auditor.js';
import { requireQueueStore } from './redis-guard.js';
import { route } from './route.js';
import { requireRole } from './require-role.js';
import { OPERATE_ROLES } from '../operators/roles.js';
import { entityId } from './params.js';

const deadQuery = z.object({ campaign: entityId.optional() }).strict();

/** `{ids}` or `{campaignId, all: true}`: which DEAD messages to queue again. */
const retryBody = z.union([
  z.object({ ids: z.array(z.number().int().positive()).min(1).max(10_000) }).strict(),
  z.object({ campaignId: z.number().int().positive(), all: z.literal(true) }).strict(),
]);

/**
 * The dead-letter view on the admin API: `GET /messages/dead?campaign=` lists DEAD messages from
 * Postgres with their last error; `POST /messages/retry` queues them again through every gate
 * (200 with what it did, message by message; 409 when nothing could be retried).
 */
export function messageRoutes(router: Router, ctx: HttpContext): void {
  const deadLetters = deadLetterService(ctx);
  router.get(
    '/messages/dead',
    route(async (req, res) => {
      const { campaign } = deadQuery.parse(req.query);
      res.json({ messages: await deadLetters.list(campaign) });
    }),
  );
  router.post(
    '/messages/retry',
    requireRole(OPERATE_ROLES, 'retry dead messages'),
    requireQueueStore(ctx.queues),
    route(async (req, res) => {
      const body = retryBody.parse(req.body);
      const outcome = await apiActions(req, ctx).retryDead('ids' in body ? { ids: body.ids } : { campaignId: body.campaignId });
      if (outcome.queued.length === 0) {
        if ('ids' in body && outcome.missing.length === new Set(body.ids).size) throw new NotFoundError(`no message has id ${outcome.missing.join(', ')}`);
        throw new DomainError(`no DEAD message could be retried: ${describeRefusals(outcome)}`, 'conflict');
      }
      res.json(outcome);
    }),
  );
}
