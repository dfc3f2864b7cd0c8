import type { Request, Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { DomainError } from '../../core/domain-error.js';
import { deadLetterService, describeRefusals, describeRetry, type RetryOutcome } from '../../messages/dead-letter-service.js';
import { unknownService } from '../../messages/unknown-service.js';
import { OPERATE_ROLES } from '../../operators/roles.js';
import { entityId, idParam } from '../params.js';
import { redirectWithNotice } from './notice.js';
import { pageAction, pageActions, pageRoute, requirePageRole } from './page-route.js';
import { renderAdminPage } from './render.js';

/** Rows shown per list; the page says when there are more (retry-all still takes every one). */
const MESSAGES_SHOWN = 500;

const listQuery = z.object({ campaign: entityId.optional() });
const resolutionForm = z.object({ resolution: z.enum(['sent', 'failed', 'resend'], { error: 'choose sent, failed or resend' }) });
const campaignForm = z.object({ campaignId: entityId });
const resolveAllForm = campaignForm.extend(resolutionForm.shape);

const resolutionWords = { sent: 'sent (it arrived)', failed: 'failed (DEAD; the lead’s sequence ends)', resend: 'to be sent again' } as const;

function backToMessages(req: Request): string {
  const body: unknown = req.body;
  const campaign = typeof body === 'object' && body !== null && 'campaignId' in body && typeof body.campaignId === 'string' && /^[1-9][0-9]{0,15}$/.test(body.campaignId) ? body.campaignId : undefined;
  const fromQuery = typeof req.query.campaign === 'string' && /^[1-9][0-9]{0,15}$/.test(req.query.campaign) ? req.query.campaign : undefined;
  const id = campaign ?? fromQuery;
  return id === undefined ? '/admin/messages' : `/admin/messages?campaign=${id}`;
}

/**
 * Messages that wait for an operator: UNKNOWN (the provider may or may not have it: resolve as
 * sent, failed or resend) and DEAD (out of attempts: retry through every gate), one by one or
 * all of a campaign. Each action goes through the same services as the CLI and the API and is
 * audited.
 */
export function messagePages(router: Router, ctx: HttpContext): void {
  const operate = requirePageRole(OPERATE_ROLES, 'retry dead messages or resolve unknown ones');
  const deadLetters = deadLetterService(ctx);
  const unknowns = unknownService(ctx);

  /** The notice of a retry; a retry that queued nothing is refused with why. */
  function retried(outcome: RetryOutcome): string {
    if (outcome.queued.length === 0) throw new DomainError(`No DEAD message could be retried: ${describeRefusals(outcome)}.`, 'conflict');
    return `${describeRetry(outcome).replace(/^q/, 'Q')}.`;
  }

  router.get(
    '/messages',
    pageRoute(async (req, res) => {
      const { campaign } = listQuery.parse(req.query);
      if (campaign !== undefined) await ctx.campaigns.require(campaign);
      const [unknown, dead] = await Promise.all([unknowns.list(campaign), deadLetters.list(campaign)]);
      renderAdminPage(res, 'messages', {
        title: 'Messages',
        section: 'messages',
        campaign: campaign ?? null,
        unknown: unknown.slice(0, MESSAGES_SHOWN),
        unknownTotal: unknown.length,
        dead: dead.slice(0, MESSAGES_SHOWN),
        deadTotal: dead.length,
        campaignsWithDead: [...new Set(dead.map((message) => message.campaignId))],
        campaignsWithUnknown: [...new Set(unknown.map((message) => message.campaignId))],
      });
    }),
  );

  router.post(
    '/messages/:id/retry',
    operate,
    pageAction(ctx.config, backToMessages, async (req, res) => {
      const { id } = idParam.parse(req.params);
      const text = retried(await pageActions(req, ctx).retryDead({ ids: [id] }));
      redirectWithNotice(res, ctx.config, backToMessages(req), { kind: 'success', text });
    }),
  );

  router.post(
    '/messages/retry-campaign',
    operate,
    pageAction(ctx.config, backToMessages, async (req, res) => {
      const { campaignId } = campaignForm.parse(req.body);
      const text = retried(await pageActions(req, ctx).retryDead({ campaignId }));
      redirectWithNotice(res, ctx.config, backToMessages(req), { kind: 'success', text });
    }),
  );

  router.post(
    '/messages/:id/resolve',
    operate,
    pageAction(ctx.config, backToMessages, async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { resolution } = resolutionForm.parse(req.body);
      const resolved = await pageActions(req, ctx).resolveUnknown([id], resolution);
      if (resolved.length === 0) throw new DomainError(`Message ${id} is not UNKNOWN (any more); nothing changed.`, 'conflict');
      redirectWithNotice(res, ctx.config, backToMessages(req), { kind: 'success', text: `Message ${id} resolved as ${resolutionWords[resolution]}.` });
    }),
  );

  router.post(
    '/messages/resolve-campaign',
    operate,
    pageAction(ctx.config, backToMessages, async (req, res) => {
      const { campaignId, resolution } = resolveAllForm.parse(req.body);
      await ctx.campaigns.require(campaignId);
      const ids = (await unknowns.list(campaignId)).map((message) => message.id);
      if (ids.length === 0) throw new DomainError(`Campaign ${campaignId} has no UNKNOWN message; nothing changed.`, 'conflict');
      const resolved = await pageActions(req, ctx).resolveUnknown(ids, resolution);
      redirectWithNotice(res, ctx.config, backToMessages(req), { kind: 'success', text: `${resolved.length} UNKNOWN message(s) of campaign ${campaignId} resolved as ${resolutionWords[resolution]}.` });
    }),
  );
}
