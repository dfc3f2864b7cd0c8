import type { Request } from 'express';
import type { Knex } from 'knex';
import type { Auditor } from '../audit/audited.js';
import { auditedActions, type AuditedActionDeps, type AuditedActions } from '../audit/audited-actions.js';
import type { Clock } from '../core/clock.js';
import { apiTokenOf } from './api-auth.js';

/**
 * Who an `/api` request acts as in the audit log: the token owner's email, or `token:<name>`
 * for a token of the installation.
 */
export function apiAuditActor(req: Request): string {
  const token = apiTokenOf(req);
  return token.operatorEmail ?? `token:${token.name}`;
}

/** The auditor of an `/api` request (via `api`). */
export function apiAuditor(req: Request, deps: { db: Knex; clock: Clock }): Auditor {
  return { db: deps.db, clock: deps.clock, actor: apiAuditActor(req), via: 'api' };
}

/** The audited actions of an `/api` request, acting as its token's owner (or the token). */
export function apiActions(req: Request, ctx: AuditedActionDeps & { clock: Clock }): AuditedActions {
  return auditedActions(ctx, apiAuditor(req, ctx));
}
