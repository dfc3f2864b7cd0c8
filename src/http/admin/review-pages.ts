import type { Request, Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { htmlToText, textToHtml } from '../../core/message-body.js';
import { REVIEW_ROLES } from '../../operators/roles.js';
import { ReviewError, type PendingMessage, type ReviewOutcome } from '../../review/review-service.js';
import { cursorId, entityId, idParam } from '../params.js';
import { redirectWithNotice } from './notice.js';
import { pageAction, pageActions, pageRoute, refusalOf, requirePageRole } from './page-route.js';
import { renderAdminPage } from './render.js';

/** Messages per page of the review queue. */
const MESSAGES_PER_PAGE = 50;

const listQuery = z.object({ campaign: entityId.optional(), after: cursorId.optional() });
const rejectForm = z.object({ reason: z.string().trim().min(1, 'a rejection needs a reason').max(2000) });
const bulkForm = z.object({
  ids: z.union([entityId, z.array(entityId).max(MESSAGES_PER_PAGE)]).transform((ids) => (Array.isArray(ids) ? ids : [ids])),
});
const editForm = z.object({
  subject: z.string().max(2000).optional(),
  body: z.string().max(256 * 1024),
});

/** A waiting message as the recipient will see it: the subject, the text part and, for email, the HTML part. */
export interface ReviewCard {
  message: PendingMessage;
  text: string;
  /** The HTML part of an email (shown in a sandboxed frame); null for other channels. */
  html: string | null;
}

/**
 * The two parts the email adapter makes from the stored body (src/messages/message-body.ts),
 * so the reviewer reads what the recipient will: a text body is the text part and becomes HTML;
 * an HTML body is the HTML part and its text part is derived from it.
 */
export function reviewCard(message: PendingMessage): ReviewCard {
  const body = message.body ?? '';
  if (message.channel !== 'email') return { message, text: body, html: null };
  return message.format === 'html' ? { message, text: htmlToText(body), html: body } : { message, text: body, html: textToHtml(body) };
}

/** One sentence for the outcome of a decision over some messages. */
function describeOutcome(verb: string, outcome: ReviewOutcome): string {
  const done = outcome.done.length === 1 ? `1 message ${verb}` : `${outcome.done.length} messages ${verb}`;
  const refused = outcome.refused.map((refusal) => `message ${refusal.id}: ${refusal.reason}`).join('; ');
  return refused === '' ? `${done}.` : `${done}; refused ${refused}.`;
}

function backToQueue(req: Request): string {
  const campaign = typeof req.query.campaign === 'string' && /^[1-9][0-9]{0,15}$/.test(req.query.campaign) ? `?campaign=${req.query.campaign}` : '';
  return `/admin/review${campaign}`;
}

/**
 * The review queue: waiting messages rendered as the recipient will see them, with Approve,
 * Reject (with a reason), Edit and bulk approve, and j/k/a/r keyboard shortcuts (static
 * admin.js). Decisions go through the review service, as the API's do, and each decided message
 * is audited. Edited text is stored as the message's text: it is never parsed as a template.
 */
export function reviewPages(router: Router, ctx: HttpContext): void {
  const review = requirePageRole(REVIEW_ROLES, 'approve, reject or edit messages');

  router.get(
    '/review',
    pageRoute(async (req, res) => {
      const query = listQuery.parse(req.query);
      if (query.campaign !== undefined) await ctx.campaigns.require(query.campaign);
      const messages = await ctx.reviews.list({ campaignId: query.campaign, afterId: query.after, limit: MESSAGES_PER_PAGE + 1 });
      const page = messages.slice(0, MESSAGES_PER_PAGE);
      renderAdminPage(res, 'review', {
        title: 'Review',
        section: 'review',
        cards: page.map(reviewCard),
        campaign: query.campaign ?? null,
        nextAfter: messages.length > MESSAGES_PER_PAGE ? page[page.length - 1]?.id : undefined,
      });
    }),
  );

  router.post(
    '/review/approve',
    review,
    pageAction(ctx.config, backToQueue, async (req, res) => {
      const { ids } = bulkForm.parse(req.body);
      const outcome = await pageActions(req, ctx).reviewApprove(ids);
      redirectWithNotice(res, ctx.config, backToQueue(req), { kind: outcome.done.length > 0 ? 'success' : 'error', text: describeOutcome('approved', outcome) });
    }),
  );

  router.post(
    '/review/:id/approve',
    review,
    pageAction(ctx.config, backToQueue, async (req, res) => {
      const { id } = idParam.parse(req.params);
      const outcome = await pageActions(req, ctx).reviewApprove([id]);
      redirectWithNotice(res, ctx.config, backToQueue(req), { kind: outcome.done.length > 0 ? 'success' : 'error', text: describeOutcome('approved', outcome) });
    }),
  );

  router.post(
    '/review/:id/reject',
    review,
    pageAction(ctx.config, backToQueue, async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { reason } = rejectForm.parse(req.body);
      const outcome = await pageActions(req, ctx).reviewReject([id], reason);
      redirectWithNotice(res, ctx.config, backToQueue(req), { kind: outcome.done.length > 0 ? 'success' : 'error', text: describeOutcome('rejected', outcome) });
    }),
  );

  router.get(
    '/review/:id/edit',
    review,
    pageRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const [message] = await ctx.reviews.list({ afterId: id - 1, limit: 1 });
      if (message?.id !== id) throw new ReviewError(`message ${id} is not waiting for review`, 'not-found');
      renderAdminPage(res, 'review-edit', { title: `Edit message ${id}`, section: 'review', message, error: null });
    }),
  );

  router.post(
    '/review/:id/edit',
    review,
    pageRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const form = editForm.parse(req.body);
      const [before] = await ctx.reviews.list({ afterId: id - 1, limit: 1 });
      if (before?.id !== id) throw new ReviewError(`message ${id} is not waiting for review`, 'not-found');
      const subject = before.channel === 'email' ? (form.subject ?? '') : null;
      try {
        await pageActions(req, ctx).reviewEdit(id, { subject, body: form.body });
        redirectWithNotice(res, ctx.config, '/admin/review', { kind: 'success', text: `Message ${id} edited; it still waits for approval.` });
      } catch (error) {
        const refusal = refusalOf(error);
        if (refusal?.status !== 400) throw error;
        renderAdminPage(res, 'review-edit', { title: `Edit message ${id}`, section: 'review', message: { ...before, subject, body: form.body }, error: refusal.message }, 400);
      }
    }),
  );
}
