import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from './http-context.js';
import {
  listApiTokens,
  tokenLifetimeSchema,
  type ApiToken,
  type ListedApiToken,
} from '../operators/api-token-service.js';
import { listOperators, type Operator } from '../operators/operator-service.js';
import { ADMIN_ROLES } from '../operators/roles.js';
import { requireRole } from './require-role.js';
import { apiTokenOf } from './api-auth.js';
import { apiActions } from './api-auditor.js';
import { route } from './route.js';
import { entityId, idParam } from './params.js';

const newTokenBody = z
  .object({
    name: z.string().max(200),
    operator: z.string().max(320).optional(),
    expires: tokenLifetimeSchema.optional(),
  })
  .strict();
const newOperatorBody = z
  .object({
    email: z.string().max(320),
    password: z.string().max(1024),
    role: z.string().max(50).optional(),
  })
  .strict();
const operatorAction = z.object({ id: entityId, action: z.enum(['disable', 'enable']) });

/** A token as the API shows it: never the token or its hash. */
function tokenView(token: ApiToken | ListedApiToken) {
  return {
    id: token.id,
    name: token.name,
    operator: token.operatorEmail,
    role: token.role,
    createdAt: token.createdAt.toISOString(),
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
    expiresAt: token.expiresAt?.toISOString() ?? null,
    revokedAt: token.revokedAt?.toISOString() ?? null,
    ...('status' in token ? { status: token.status } : {}),
  };
}

/** An operator as the API shows it: never the password hash. */
function operatorView(operator: Operator) {
  return {
    id: operator.id,
    email: operator.email,
    role: operator.role,
    createdAt: operator.createdAt.toISOString(),
    lastLoginAt: operator.lastLoginAt?.toISOString() ?? null,
    disabledAt: operator.disabledAt?.toISOString() ?? null,
  };
}

/**
 * Token and operator management under `/api`, for admins only (reads included: the lists say
 * who can do what): `GET|POST /tokens`, `DELETE /tokens/:id` (revoke), `GET|POST /operators`,
 * `POST /operators/:id/disable|enable`. A new token is shown once, in the POST's answer.
 */
export function accessRoutes(router: Router, ctx: HttpContext): void {
  const tokensOnly = requireRole(ADMIN_ROLES, 'manage API tokens');
  const operatorsOnly = requireRole(ADMIN_ROLES, 'manage operators');

  router.get(
    '/tokens',
    tokensOnly,
    route(async (_req, res) => {
      res.json({ tokens: (await listApiTokens(ctx.db, ctx.clock)).map(tokenView) });
    }),
  );
  router.post(
    '/tokens',
    tokensOnly,
    route(async (req, res) => {
      const body = newTokenBody.parse(req.body);
      const created = await apiActions(req, ctx).createToken(body.name, body.operator, body.expires);
      ctx.log.info({ event: 'api_token_created', tokenId: created.id, byTokenId: apiTokenOf(req).id }, 'API token created');
      res.status(201).json({ id: created.id, name: created.name, token: created.token, role: created.role, expiresAt: created.expiresAt?.toISOString() ?? null });
    }),
  );
  router.delete(
    '/tokens/:id',
    tokensOnly,
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const { token, changed } = await apiActions(req, ctx).revokeToken(id);
      ctx.log.info({ event: 'api_token_revoked', tokenId: token.id, changed, byTokenId: apiTokenOf(req).id }, 'API token revoked');
      res.json({ token: tokenView(token), revoked: changed });
    }),
  );

  router.get(
    '/operators',
    operatorsOnly,
    route(async (_req, res) => {
      res.json({ operators: (await listOperators(ctx.db)).map(operatorView) });
    }),
  );
  router.post(
    '/operators',
    operatorsOnly,
    route(async (req, res) => {
      const body = newOperatorBody.parse(req.body);
      const operator = await apiActions(req, ctx).addOperator(body.email, body.password, body.role);
      ctx.log.info({ event: 'operator_added', operatorId: operator.id, role: operator.role, byTokenId: apiTokenOf(req).id }, 'operator added');
      res.status(201).json({ operator: operatorView(operator) });
    }),
  );
  router.post(
    '/operators/:id/:action',
    operatorsOnly,
    route(async (req, res) => {
      const { id, action } = operatorAction.parse(req.params);
      const { operator, changed } = await apiActions(req, ctx).setOperatorEnabled(id, action === 'enable');
      ctx.log.info({ event: `operator_${action}d`, operatorId: operator.id, changed, byTokenId: apiTokenOf(req).id }, `operator ${action}d`);
      res.json({ operator: operatorView(operator), changed });
    }),
  );
}
