import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../runtime/context.js';
import { reviewEditSchema } from '../review/review-service.js';
import { apiActor, contentRoute } from './template-routes.js';
import { requireRole } from './require-role.js';
import { REVIEW_ROLES } from '../operators/roles.js';

const idParam = z.object({ id: z.coerce.number().int().positive() });
const listQuery = z.object({
  campaign: z.coerce.number().int().positive().optional(),
  after: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().positive().max(1000).optional(),
});
const approveBody = z.object({ note: z.string().max(2000).optional() }).strict();
const rejectBody = z.object({ reason: z.string().trim().min(1, 'a rejection needs a reason').max(2000) }).strict();

/**
 * The per-message review queue under `/api`: list what waits, approve (sends at once, every
 * gate still applies), reject (with a reason), edit (re-checked for placeholders).
 */
export function reviewRoutes(router: Router, ctx: AppContext): void {
  router.get(
    '/review',
    contentRoute(async (req, res) => {
      const query = listQuery.parse(req.query);
      res.json({ messages: await ctx.reviews.list({ campaignId: query.campaign, afterId: query.after, limit: query.limit }) });
    }),
  );
  router.post(
    '/review/:id/approve',
    requireRole(REVIEW_ROLES, 'approve messages'),
    contentRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { note } = approveBody.parse(req.body ?? {});
      const outcome = await ctx.reviews.approve([id], { by: apiActor(req), note: note ?? null });
      res.status(outcome.done.length === 1 ? 200 : 409).json(outcome);
    }),
  );
  router.post(
    '/review/:id/reject',
    requireRole(REVIEW_ROLES, 'reject messages'),
    contentRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { reason } = rejectBody.parse(req.body);
      const outcome = await ctx.reviews.reject([id], { by: apiActor(req), reason });
      res.status(outcome.done.length === 1 ? 200 : 409).json(outcome);
    }),
  );
  router.put(
    '/review/:id',
    requireRole(REVIEW_ROLES, 'edit messages under review'),
    contentRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      res.json({ message: await ctx.reviews.edit(id, reviewEditSchema.parse(req.body), apiActor(req)) });
    }),
  );
}
