import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from './http-context.js';
import { apiActions } from './api-auditor.js';
import { NotFoundError } from '../core/domain-error.js';
import { findCampaign } from '../campaigns/campaign-store.js';
import { route } from './route.js';
import { listSuppressions } from '../suppression/suppression-store.js';
import { requireRole } from './require-role.js';
import { OPERATE_ROLES } from '../operators/roles.js';
import { cursorId, entityId, smallCount } from './params.js';

const listQuery = z.object({
  kind: z.enum(['email', 'domain', 'identity']).optional(),
  campaignId: entityId.optional(),
  afterId: cursorId.default(0),
  limit: smallCount.pipe(z.number().max(1000)).default(100),
});

const targetBody = z
  .object({
    target: z.string().min(1).max(320),
    reason: z.string().min(1).max(200).default('manual'),
    campaignId: z.number().int().positive().nullable().default(null),
  })
  .strict();

/**
 * Suppressions on the admin API: `GET /suppressions` (keyset-paged by `afterId`), `POST
 * /suppressions` `{ target, reason?, campaignId? }` (an address, an @domain or an identity
 * hash) and `DELETE /suppressions` with the same body to lift one.
 */
export function suppressionApiRoutes(router: Router, deps: HttpContext): void {
  router.get(
    '/suppressions',
    route(async (req, res) => {
      const query = listQuery.parse(req.query);
      if (query.campaignId !== undefined && (await findCampaign(deps.db, query.campaignId)) === undefined) {
        throw new NotFoundError(`campaign ${query.campaignId} does not exist`);
      }
      const suppressions = await listSuppressions(deps.db, query);
      res.json({ suppressions, nextAfterId: suppressions.length === query.limit ? suppressions[suppressions.length - 1]?.id : null });
    }),
  );
  router.post(
    '/suppressions',
    requireRole(OPERATE_ROLES, 'change suppressions'),
    route(async (req, res) => {
      const body = targetBody.parse(req.body);
      const stored = await apiActions(req, deps).suppress(body.target, { reason: body.reason, campaignId: body.campaignId });
      res.status(201).json({ suppressed: stored });
    }),
  );
  router.delete(
    '/suppressions',
    requireRole(OPERATE_ROLES, 'change suppressions'),
    route(async (req, res) => {
      const body = targetBody.parse(req.body);
      const removed = await apiActions(req, deps).unsuppress(body.target, body.campaignId);
      if (removed === 0) throw new NotFoundError(`no suppression of "${body.target}" ${body.campaignId === null ? 'everywhere' : `in campaign ${body.campaignId}`}`);
      res.json({ removed });
    }),
  );
}
