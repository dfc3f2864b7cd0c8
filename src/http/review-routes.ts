import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from './http-context.js';
import { reviewEditSchema, ReviewError, type ReviewOutcome } from '../review/review-service.js';
import { route } from './route.js';
import { apiActions } from './api-auditor.js';
import { requireRole } from './require-role.js';
import { REVIEW_ROLES } from '../operators/roles.js';
import { cursorId, entityId, idParam, smallCount } from './params.js';

const listQuery = z.object({
  campaign: entityId.optional(),
  after: cursorId.optional(),
  limit: smallCount.pipe(z.number().max(1000)).optional(),
});
const approveBody = z.object({ note: z.string().max(2000).optional() }).strict();
const rejectBody = z.object({ reason: z.string().trim().min(1, 'a rejection needs a reason').max(2000) }).strict();

/** The outcome of a decision on one message, or its refusal as an error (404 or 409). */
function decidedOne(outcome: ReviewOutcome): ReviewOutcome {
  const [refused] = outcome.refused;
  if (outcome.done.length === 0 && refused !== undefined) {
    throw new ReviewError(`message ${refused.id}: ${refused.reason}`, refused.reason === 'no such message' ? 'not-found' : 'conflict');
  }
  return outcome;
}

/**
 * The per-message review queue under `/api`: list what waits, approve (sends at once, every
 * gate still applies), reject (with a reason), edit (re-checked for placeholders).
 */
export function reviewRoutes(router: Router, ctx: HttpContext): void {
  router.get(
    '/review',
    route(async (req, res) => {
      const query = listQuery.parse(req.query);
      if (query.campaign !== undefined) await ctx.campaigns.require(query.campaign);
      res.json({ messages: await ctx.reviews.list({ campaignId: query.campaign, afterId: query.after, limit: query.limit }) });
    }),
  );
  router.post(
    '/review/:id/approve',
    requireRole(REVIEW_ROLES, 'approve messages'),
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { note } = approveBody.parse(req.body ?? {});
      const outcome = await apiActions(req, ctx).reviewApprove([id], note ?? null);
      res.json(decidedOne(outcome));
    }),
  );
  router.post(
    '/review/:id/reject',
    requireRole(REVIEW_ROLES, 'reject messages'),
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { reason } = rejectBody.parse(req.body);
      const outcome = await apiActions(req, ctx).reviewReject([id], reason);
      res.json(decidedOne(outcome));
    }),
  );
  router.put(
    '/review/:id',
    requireRole(REVIEW_ROLES, 'edit messages under review'),
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      res.json({ message: await apiActions(req, ctx).reviewEdit(id, reviewEditSchema.parse(req.body)) });
    }),
  );
}
