import type { Router, Request, Response, NextFunction } from 'express';
import { z } from 'zod';
import type { AppContext } from '../runtime/context.js';
import { apiTokenOf } from './api-auth.js';
import { requireRole } from './require-role.js';
import { OPERATE_ROLES } from '../operators/roles.js';
import { CampaignSpecError, parseCampaignSpec } from '../campaigns/campaign-spec.js';
import { CampaignStateError } from '../campaigns/campaign-service.js';
import { TemplateRegistryError } from '../templates/template-service.js';
import { TemplateValidationError } from '../templates/validate.js';
import { PreviewError, previewCampaignStep } from '../templates/preview.js';
import { ReviewError } from '../review/review-service.js';

type Handler = (req: Request, res: Response) => Promise<void>;

/**
 * Wraps a handler of the template and review routes: bad input is 400 (with each template
 * problem and its line), a missing entity 404, a state conflict 409; anything else goes on to
 * the app's error handler.
 */
export function contentRoute(handler: Handler) {
  return (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch((error: unknown) => {
      if (error instanceof z.ZodError) res.status(400).json({ error: z.prettifyError(error) });
      else if (error instanceof TemplateValidationError) res.status(400).json({ error: error.message, problems: error.problems });
      else if (error instanceof CampaignSpecError) res.status(400).json({ error: error.message, problems: error.problems });
      else if (error instanceof TemplateRegistryError || error instanceof PreviewError || error instanceof ReviewError) {
        const status = error.kind === 'not-found' ? 404 : error.kind === 'conflict' ? 409 : 400;
        res.status(status).json({ error: error.message });
      } else if (error instanceof CampaignStateError) res.status(409).json({ error: error.message });
      else next(error);
    });
  };
}

/** Who made a change through the API, as recorded on versions and decisions. */
export function apiActor(req: Request): string {
  return `api:${apiTokenOf(req).name}`;
}

const idParam = z.object({ id: z.coerce.number().int().positive() });
const listQuery = z.object({ campaign: z.coerce.number().int().positive().optional() });
const previewQuery = z.object({ lead: z.string().min(1), step: z.coerce.number().int().positive().default(1) });

/**
 * Template registry and campaign content routes under `/api`: template CRUD (every save a new
 * version), campaign step preview, and sequence edits (which return the strategy to DRAFT).
 */
export function templateRoutes(router: Router, ctx: AppContext): void {
  router.get(
    '/templates',
    contentRoute(async (req, res) => {
      const { campaign } = listQuery.parse(req.query);
      res.json({ templates: await ctx.templates.list(campaign === undefined ? {} : { campaignId: campaign }) });
    }),
  );
  router.post(
    '/templates',
    requireRole(OPERATE_ROLES, 'change templates'),
    contentRoute(async (req, res) => {
      res.status(201).json(await ctx.templates.add(req.body, apiActor(req)));
    }),
  );
  router.get(
    '/templates/:id',
    contentRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      res.json(await ctx.templates.show(id));
    }),
  );
  router.put(
    '/templates/:id',
    requireRole(OPERATE_ROLES, 'change templates'),
    contentRoute(async (req, res) => {
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
      contentRoute(async (req, res) => {
        const { id } = idParam.parse(req.params);
        res.json({ template: await ctx.templates.setActive(id, active) });
      }),
    );
  }
  router.get(
    '/campaigns/:id/preview',
    contentRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { lead, step } = previewQuery.parse(req.query);
      res.json({ preview: await previewCampaignStep(ctx.db, id, lead, step) });
    }),
  );
  router.put(
    '/campaigns/:id/sequence',
    requireRole(OPERATE_ROLES, 'edit campaign sequences'),
    contentRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const spec = parseCampaignSpec(req.body);
      res.json({ campaign: await ctx.campaigns.editSequence(id, spec, apiActor(req)) });
    }),
  );
}
