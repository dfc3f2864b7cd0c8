import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from './http-context.js';
import { campaignReport } from '../analytics/campaign-report.js';
import { listCampaigns } from '../campaigns/campaign-store.js';
import { readKillSwitch } from '../settings/kill-switch.js';
import { apiActions } from './api-auditor.js';
import { templateRoutes } from './template-routes.js';
import { reviewRoutes } from './review-routes.js';
import { messageRoutes } from './message-routes.js';
import { route } from './route.js';
import { leadApiRoutes } from './lead-api-routes.js';
import { suppressionApiRoutes } from './suppression-api-routes.js';
import { requireQueueStore } from './redis-guard.js';
import { requireRole } from './require-role.js';
import { OPERATE_ROLES } from '../operators/roles.js';
import { accessRoutes } from './access-routes.js';
import { entityId, idParam } from './params.js';

const actionParam = z.object({ id: entityId, action: z.enum(['approve', 'start', 'pause', 'resume', 'archive']) });
const killBody = z.object({ on: z.boolean() }).strict();
const strategyBody = z.object({ note: z.string().max(2000).optional(), reason: z.string().trim().max(2000).optional() }).strict();

/**
 * The admin JSON API under `/api` (bearer-token authenticated by the app). Reads are open to
 * every role; each route that changes something names the roles it needs (`requireRole`).
 * Handlers throw; the app's one error handler (src/http/errors.ts) answers every failure in one
 * shape.
 */
export function apiRoutes(router: Router, ctx: HttpContext): void {
  // Ahead of '/campaigns/:id/:action', which would otherwise take POST …/leads and …/imports.
  leadApiRoutes(router, ctx);
  suppressionApiRoutes(router, ctx);
  router.get(
    '/campaigns',
    route(async (_req, res) => {
      res.json({ campaigns: await listCampaigns(ctx.db) });
    }),
  );
  router.get(
    '/campaigns/:id',
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      res.json({ campaign: await ctx.campaigns.require(id) });
    }),
  );
  router.get(
    '/campaigns/:id/report',
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      await ctx.campaigns.require(id);
      res.json(await campaignReport(ctx.db, id));
    }),
  );
  router.post(
    '/campaigns/:id/reject',
    requireRole(OPERATE_ROLES, 'reject campaign strategies'),
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { reason } = strategyBody.parse(req.body ?? {});
      if (reason === undefined || reason === '') throw new z.ZodError([{ code: 'custom', path: ['reason'], message: 'a rejection needs a reason', input: reason }]);
      res.json({ campaign: await apiActions(req, ctx).campaign(id, 'reject', reason) });
    }),
  );
  router.post(
    '/campaigns/:id/:action',
    requireRole(OPERATE_ROLES, 'approve, start, pause, resume or archive campaigns'),
    requireQueueStore(ctx.queues),
    route(async (req, res) => {
      const { id, action } = actionParam.parse(req.params);
      const note = action === 'approve' ? (strategyBody.parse(req.body ?? {}).note ?? null) : null;
      res.json({ campaign: await apiActions(req, ctx).campaign(id, action, note) });
    }),
  );
  templateRoutes(router, ctx);
  reviewRoutes(router, ctx);
  accessRoutes(router, ctx);
  messageRoutes(router, ctx);
  router.get(
    '/kill-switch',
    route(async (_req, res) => {
      res.json(await readKillSwitch(ctx.db));
    }),
  );
  router.put(
    '/kill-switch',
    requireRole(OPERATE_ROLES, 'switch the kill switch'),
    route(async (req, res) => {
      const { on } = killBody.parse(req.body);
      res.json(await apiActions(req, ctx).killSwitch(on));
    }),
  );
}
