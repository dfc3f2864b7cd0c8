import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { searchSuppressions } from '../../suppression/suppression-search.js';
import { OPERATE_ROLES } from '../../operators/roles.js';
import { cursorId, entityId } from '../params.js';
import { redirectWithNotice } from './notice.js';
import { pageAction, pageActions, pageRoute, requirePageRole } from './page-route.js';
import { renderAdminPage } from './render.js';

const SUPPRESSIONS_PAGE = '/admin/suppressions';
/** Suppressions per page of the list. */
const SUPPRESSIONS_PER_PAGE = 100;
/** Lines one pasted or loaded file may hold; larger lists go through `drumbeat suppress import`. */
const MAX_IMPORT_LINES = 10_000;

const optionalCampaign = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()))
  .pipe(entityId.optional());
const listQuery = z.object({
  q: z.string().max(320).optional(),
  kind: z.enum(['', 'email', 'domain', 'identity']).optional(),
  after: cursorId.optional(),
});
const addForm = z.object({
  target: z.string().trim().min(1, 'enter an address, an @domain or an identity hash').max(320),
  reason: z.string().trim().max(200).optional(),
  campaignId: optionalCampaign,
});
const removeForm = z.object({ target: z.string().trim().min(1).max(320), campaignId: optionalCampaign });
const importForm = z.object({
  lines: z.string().max(2_000_000, 'at most 2 MB at once; use drumbeat suppress import for more'),
  fileName: z.string().max(200).optional(),
  reason: z.string().trim().max(200).optional(),
  campaignId: optionalCampaign,
});

/**
 * Suppressions (`/admin/suppressions`): list and search (an address also finds its identity
 * hash), add, remove, and import a file (one target per line, or the first CSV column; the
 * file is read into the form by the browser, or pasted). Changes need an operator or admin and
 * go through the audited actions.
 */
export function suppressionPages(router: Router, ctx: HttpContext): void {
  const operate = requirePageRole(OPERATE_ROLES, 'change suppressions');
  const back = () => SUPPRESSIONS_PAGE;

  router.get(
    '/suppressions',
    pageRoute(async (req, res) => {
      const query = listQuery.parse(req.query);
      const text = query.q?.trim() ?? '';
      const kind = query.kind === '' ? undefined : query.kind;
      const found = await searchSuppressions(ctx.db, { text, kind, afterId: query.after }, SUPPRESSIONS_PER_PAGE + 1);
      const rows = found.slice(0, SUPPRESSIONS_PER_PAGE);
      const last = rows[rows.length - 1];
      const next =
        found.length > SUPPRESSIONS_PER_PAGE && last !== undefined ? `${SUPPRESSIONS_PAGE}?${new URLSearchParams({ q: text, kind: kind ?? '', after: String(last.id) }).toString()}` : null;
      renderAdminPage(res, 'suppressions', { title: 'Suppressions', section: 'suppressions', q: text, kind: kind ?? '', rows, nextHref: next });
    }),
  );

  router.post(
    '/suppressions',
    operate,
    pageAction(ctx.config, back, async (req, res) => {
      const form = addForm.parse(req.body);
      const stored = await pageActions(req, ctx).suppress(form.target, { reason: form.reason === undefined || form.reason === '' ? 'manual' : form.reason, campaignId: form.campaignId ?? null });
      const scope = form.campaignId === undefined ? 'everywhere' : `in campaign ${form.campaignId}`;
      redirectWithNotice(res, ctx.config, SUPPRESSIONS_PAGE, { kind: 'success', text: `Suppressed ${stored.kind} ${stored.value} ${scope}.` });
    }),
  );

  router.post(
    '/suppressions/remove',
    operate,
    pageAction(ctx.config, back, async (req, res) => {
      const form = removeForm.parse(req.body);
      const removed = await pageActions(req, ctx).unsuppress(form.target, form.campaignId ?? null);
      const text = removed === 0 ? `No such suppression: ${form.target}.` : `Removed the suppression of ${form.target}.`;
      redirectWithNotice(res, ctx.config, SUPPRESSIONS_PAGE, { kind: removed === 0 ? 'error' : 'success', text });
    }),
  );

  router.post(
    '/suppressions/import',
    operate,
    pageAction(ctx.config, back, async (req, res) => {
      const form = importForm.parse(req.body);
      const lines = form.lines.split(/\r?\n/);
      if (lines.length > MAX_IMPORT_LINES) throw new z.ZodError([{ code: 'custom', path: ['lines'], message: `at most ${MAX_IMPORT_LINES} lines at once; use drumbeat suppress import for more`, input: undefined }]);
      const reason = form.reason === undefined || form.reason === '' ? 'import' : form.reason;
      const fileName = form.fileName === undefined || form.fileName === '' ? 'pasted list' : form.fileName;
      const outcome = await pageActions(req, ctx).importSuppressions(fileName, lines, { reason, campaignId: form.campaignId ?? null });
      const refused = outcome.refused.length === 0 ? '' : ` Refused ${outcome.refused.length}: ${outcome.refused.slice(0, 5).join('; ')}${outcome.refused.length > 5 ? '; …' : ''}.`;
      redirectWithNotice(res, ctx.config, SUPPRESSIONS_PAGE, { kind: outcome.refused.length === 0 ? 'success' : 'error', text: `Suppressed ${outcome.added}.${refused}` });
    }),
  );
}
