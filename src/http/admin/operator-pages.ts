import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { listOperators } from '../../operators/operator-service.js';
import { listApiTokens } from '../../operators/api-token-service.js';
import { ADMIN_ROLES, ROLES } from '../../operators/roles.js';
import { entityId } from '../params.js';
import { redirectWithNotice } from './notice.js';
import { pageAction, pageActions, pageRoute, requirePageRole } from './page-route.js';
import { renderAdminPage } from './render.js';

const OPERATORS_PAGE = '/admin/operators';

/** Token lifetimes offered by the form, as `tokenLifetimeSchema` reads them. */
const TOKEN_LIFETIMES = [
  { value: '30d', label: '30 days', ms: 30 * 86_400_000 },
  { value: '90d', label: '90 days', ms: 90 * 86_400_000 },
  { value: '365d', label: '1 year', ms: 365 * 86_400_000 },
  { value: 'never', label: 'never', ms: null },
] as const;

const newOperatorForm = z.object({
  email: z.string().max(320),
  password: z.string().max(1024),
  role: z.enum(ROLES, { error: `a role: ${ROLES.join(', ')}` }),
});
const operatorActionParams = z.object({ id: entityId, action: z.enum(['disable', 'enable']) });
const newTokenForm = z.object({
  name: z.string().trim().min(1, 'a token needs a name').max(200),
  operator: z.string().max(320).optional(),
  expires: z.enum(TOKEN_LIFETIMES.map((lifetime) => lifetime.value) as ['30d', '90d', '365d', 'never'], { error: 'choose how long the token lasts' }),
});

/**
 * Operators and API tokens (`/admin/operators`), for admins only — the pages and every action
 * answer 403 to other roles: add an operator with a role, disable and enable one, create a
 * token (its value shown once, on the answer to the form, never stored or sent again), revoke
 * one. Every change goes through the audited actions, as the API's and the CLI's do.
 */
export function operatorPages(router: Router, ctx: HttpContext): void {
  const adminsOnly = requirePageRole(ADMIN_ROLES, 'manage operators and API tokens');
  const back = () => OPERATORS_PAGE;

  router.get(
    '/operators',
    adminsOnly,
    pageRoute(async (_req, res) => {
      const [operators, tokens] = await Promise.all([listOperators(ctx.db), listApiTokens(ctx.db, ctx.clock)]);
      renderAdminPage(res, 'operators', { title: 'Operators and API tokens', section: 'operators', operators, tokens, roles: ROLES, lifetimes: TOKEN_LIFETIMES });
    }),
  );

  router.post(
    '/operators',
    adminsOnly,
    pageAction(ctx.config, back, async (req, res) => {
      const form = newOperatorForm.parse(req.body);
      const operator = await pageActions(req, ctx).addOperator(form.email, form.password, form.role);
      redirectWithNotice(res, ctx.config, OPERATORS_PAGE, { kind: 'success', text: `Operator ${operator.email} added as ${operator.role}.` });
    }),
  );

  router.post(
    '/operators/:id/:action',
    adminsOnly,
    pageAction(ctx.config, back, async (req, res) => {
      const { id, action } = operatorActionParams.parse(req.params);
      const { operator, changed } = await pageActions(req, ctx).setOperatorEnabled(id, action === 'enable');
      const text = changed
        ? action === 'disable'
          ? `Operator ${operator.email} disabled: their sessions ended and their tokens are refused.`
          : `Operator ${operator.email} enabled.`
        : `Operator ${operator.email} was already ${action}d.`;
      redirectWithNotice(res, ctx.config, OPERATORS_PAGE, { kind: 'success', text });
    }),
  );

  router.post(
    '/tokens',
    adminsOnly,
    pageAction(ctx.config, back, async (req, res) => {
      const form = newTokenForm.parse(req.body);
      const lifetime = TOKEN_LIFETIMES.find((entry) => entry.value === form.expires)?.ms ?? null;
      const owner = form.operator === undefined || form.operator === '' ? undefined : form.operator;
      const created = await pageActions(req, ctx).createToken(form.name, owner, lifetime);
      // Shown in this answer only: no redirect, no cookie, nothing cached.
      renderAdminPage(res, 'token-created', { title: 'API token created', section: 'operators', created, owner: owner ?? null }, 201);
    }),
  );

  router.post(
    '/tokens/:id/revoke',
    adminsOnly,
    pageAction(ctx.config, back, async (req, res) => {
      const { id } = z.object({ id: entityId }).parse(req.params);
      const { token, changed } = await pageActions(req, ctx).revokeToken(id);
      redirectWithNotice(res, ctx.config, OPERATORS_PAGE, { kind: 'success', text: changed ? `Token "${token.name}" revoked.` : `Token "${token.name}" was already revoked.` });
    }),
  );
}
