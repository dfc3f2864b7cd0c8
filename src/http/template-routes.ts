import type { Router, Request } from 'express';
import { z } from 'zod';
import type { HttpContext } from './http-context.js';
import { apiTokenOf } from './api-auth.js';
import { requireRole } from './require-role.js';
import { apiActions } from './api-auditor.js';
import { OPERATE_ROLES } from '../operators/roles.js';
import { route } from './route.js';
import { parseCampaignSpec } from '../campaigns/campaign-spec.js';
import { previewCampaignStep } from '../messages/preview.js';
import { entityId, idParam, smallCount } from './params.js';

/** Who made a change through the API, as recorded on versions and decisions. */
export function apiActor(req: Request): string {
  return `api:${apiTokenOf(req).name}`;
}

const listQuery = z.object({ campaign: entityId.optional() });
const previewQuery = z.object({ lead: z.string().min(1).max(320), step: smallCount.default(1) });

/**
 * Template registry and campaign content routes under `/api`: template CRUD (every save a new
 * version), campaign step preview, and sequence edits (which return the strategy to DRAFT).
 */
export function templateRoutes(router: Router, ctx: HttpContext): void {
  router.get(
    '/templates',
    route(async (req, res) => {
      const { campaign } = listQuery.parse(req.query);
      if (campaign !== undefined) await ctx.campaigns.require(campaign);
      res.json({ templates: await ctx.templates.list(campaign === undefined ? {} : { campaignId: campaign }) });
    }),
  );
  router.post(
    '/templates',
    requireRole(OPERATE_ROLES, 'change templates'),
    route(async (req, res) => {
      res.status(201).json(await ctx.templates.add(req.body, apiActor(req)));
    }),
  );
  router.get(
    '/templates/:id',
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      res.json(await ctx.templates.show(id));
    }),
  );
  router.put(
    '/templates/:id',
    requireRole(OPERATE_ROLES, 'change templates'),
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      res.json(await ctx.templates.update(id, req.body, apiActor(req)));
    }),
  );
  for (const [action, active] of [
    ['activate', true],
    ['deactivate', false],
  ] as const) {
    router.post(
      `/templates/:id/${action}`,
      requireRole(OPERATE_ROLES, 'change templates'),
      route(async (req, res) => {
        const { id } = idParam.parse(req.params);
        res.json({ template: await ctx.templates.setActive(id, active) });
      }),
    );
  }
  router.get(
    '/campaigns/:id/preview',
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { lead, step } = previewQuery.parse(req.query);
      res.json({ preview: await previewCampaignStep(ctx.db, id, lead, step) });
    }),
  );
  router.put(
    '/campaigns/:id/sequence',
    requireRole(OPERATE_ROLES, 'edit campaign sequences'),
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const spec = parseCampaignSpec(req.body);
      res.json({ campaign: await apiActions(req, ctx).editSequence(id, spec) });
    }),
  );
}
