import type { Request, Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { campaignReport } from '../../analytics/campaign-report.js';
import { reportCharts } from '../../analytics/report-html.js';
import { campaignSummaries, emptySummary } from '../../analytics/campaign-summaries.js';
import { loadCampaignDefinition } from '../../campaigns/campaign-definition.js';
import { parseCampaignSpecText } from '../../campaigns/campaign-spec.js';
import { listCampaigns, type Campaign } from '../../campaigns/campaign-store.js';
import { campaignTickQueue, tickSchedulerId } from '../../../queues/campaign-tick.js';
import { enrolledLeadPage } from '../../enrollments/enrollment-listing.js';
import { DomainError, NotFoundError } from '../../core/domain-error.js';
import { OPERATE_ROLES } from '../../operators/roles.js';
import { cursorId, entityId, idParam } from '../params.js';
import { redirectWithNotice } from './notice.js';
import { pageAction, pageActions, pageRoute, requirePageRole } from './page-route.js';
import { renderAdminPage } from './render.js';

/** The lifecycle buttons of a campaign page, in the order they are shown. */
export const CAMPAIGN_ACTIONS = ['approve', 'start', 'pause', 'resume', 'archive'] as const;
export type CampaignAction = (typeof CAMPAIGN_ACTIONS)[number];

const actionLabels: Record<CampaignAction, string> = { approve: 'Approve strategy', start: 'Start', pause: 'Pause', resume: 'Resume', archive: 'Archive' };
const actionDone: Record<CampaignAction, string> = {
  approve: 'Strategy approved.',
  start: 'Campaign started.',
  pause: 'Campaign paused.',
  resume: 'Campaign resumed.',
  archive: 'Campaign archived.',
};

/**
 * The actions a campaign's state allows, mirroring the campaign service's rules (which still
 * decide: a button shown on a stale page gets the service's refusal).
 */
export function allowedCampaignActions(campaign: Pick<Campaign, 'status' | 'strategyStatus'>): CampaignAction[] {
  const { status, strategyStatus } = campaign;
  const allowed: CampaignAction[] = [];
  if ((status === 'DRAFT' || status === 'PAUSED') && strategyStatus !== 'APPROVED') allowed.push('approve');
  if (status === 'DRAFT' && strategyStatus === 'APPROVED') allowed.push('start');
  if (status === 'ACTIVE') allowed.push('pause');
  if (status === 'PAUSED' && strategyStatus === 'APPROVED') allowed.push('resume');
  if (status !== 'ARCHIVED') allowed.push('archive');
  return allowed;
}

const actionParams = z.object({ id: entityId, action: z.enum(CAMPAIGN_ACTIONS) });
const leadTableQuery = z.object({
  q: z.string().max(200).optional(),
  after: cursorId.optional(),
});
const specForm = z.object({
  spec: z.string().max(256 * 1024, 'the spec is larger than 256 KB'),
  format: z.enum(['yaml', 'json']).default('yaml'),
});

/** Leads per page of a campaign's lead table. */
const LEADS_PER_PAGE = 50;

/** When each ACTIVE campaign ticks next, from the tick queue's job schedulers; empty while Redis is down. */
async function nextTicks(ctx: Pick<HttpContext, 'queues'>): Promise<Map<string, number>> {
  try {
    const schedulers = await ctx.queues.get(campaignTickQueue).getJobSchedulers();
    return new Map(schedulers.flatMap((scheduler) => (scheduler.next === undefined ? [] : [[scheduler.key, scheduler.next] as const])));
  } catch {
    return new Map();
  }
}

/**
 * Campaign pages: the list (status, mode, progress, sent / replied / bounced, next tick), a
 * campaign's page (report, the sequence as it runs, per-step and per-variant numbers, its lead
 * table, the lifecycle buttons its state allows), and creating one from a pasted or uploaded
 * spec. Every action goes through the campaign service, as the API's do, and is audited.
 */
export function campaignPages(router: Router, ctx: HttpContext): void {
  const operate = requirePageRole(OPERATE_ROLES, 'create, approve, start, pause, resume or archive campaigns');

  router.get(
    '/campaigns',
    pageRoute(async (_req, res) => {
      const [campaigns, summaries, ticks] = await Promise.all([listCampaigns(ctx.db), campaignSummaries(ctx.db), nextTicks(ctx)]);
      const rows = campaigns.map((campaign) => ({
        campaign,
        summary: summaries.get(campaign.id) ?? emptySummary(),
        nextTick: campaign.status === 'ACTIVE' ? (ticks.get(tickSchedulerId(campaign.id)) ?? null) : null,
      }));
      renderAdminPage(res, 'campaigns', { title: 'Campaigns', section: 'campaigns', rows });
    }),
  );

  router.get(
    '/campaigns/new',
    operate,
    (_req, res) => {
      renderAdminPage(res, 'campaign-new', { title: 'New campaign', section: 'campaigns', spec: '', format: 'yaml', issues: [], error: null });
    },
  );

  router.post(
    '/campaigns',
    operate,
    pageRoute(async (req, res) => {
      const form = specForm.safeParse(req.body);
      if (!form.success) {
        renderAdminPage(res, 'campaign-new', { title: 'New campaign', section: 'campaigns', spec: '', format: 'yaml', issues: [], error: form.error.issues.map((issue) => issue.message).join('; ') }, 400);
        return;
      }
      const { spec } = form.data;
      try {
        const parsed = parseCampaignSpecText(form.data.spec, 'the spec', form.data.format);
        const id = await pageActions(req, ctx).createCampaign(parsed);
        redirectWithNotice(res, ctx.config, `/admin/campaigns/${id}`, { kind: 'success', text: `Campaign "${parsed.name}" created (DRAFT): approve its strategy, then start it.` });
      } catch (error) {
        if (!(error instanceof DomainError) || (error.kind !== 'invalid' && error.kind !== 'conflict')) throw error;
        const issues = error.issues;
        renderAdminPage(
          res,
          'campaign-new',
          { title: 'New campaign', section: 'campaigns', spec, format: form.data.format, issues, error: issues.length > 0 ? 'The spec has errors; each is listed with its field.' : error.message },
          error.kind === 'invalid' ? 400 : 409,
        );
      }
    }),
  );

  router.get(
    '/campaigns/:id',
    pageRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const query = leadTableQuery.parse(req.query);
      const definition = await loadCampaignDefinition(ctx.db, id);
      if (definition === undefined) throw new NotFoundError(`campaign ${id} does not exist`);
      const [report, leadPage, ticks] = await Promise.all([
        campaignReport(ctx.db, id),
        enrolledLeadPage(ctx.db, id, { search: query.q, afterId: query.after, limit: LEADS_PER_PAGE }),
        nextTicks(ctx),
      ]);
      const { campaign } = definition;
      renderAdminPage(res, 'campaign', {
        title: campaign.name,
        section: 'campaigns',
        campaign,
        steps: definition.steps,
        report,
        charts: reportCharts(report),
        leadPage,
        search: query.q ?? '',
        after: query.after ?? 0,
        nextTick: campaign.status === 'ACTIVE' ? (ticks.get(tickSchedulerId(id)) ?? null) : null,
        actions: allowedCampaignActions(campaign).map((action) => ({ action, label: actionLabels[action] })),
      });
    }),
  );

  router.post(
    '/campaigns/:id/:action',
    operate,
    pageAction(
      ctx.config,
      (req: Request) => `/admin/campaigns/${encodeURIComponent(String(req.params.id))}`,
      async (req, res) => {
        const { id, action } = actionParams.parse(req.params);
        await pageActions(req, ctx).campaign(id, action);
        redirectWithNotice(res, ctx.config, `/admin/campaigns/${id}`, { kind: 'success', text: actionDone[action] });
      },
    ),
  );
}
