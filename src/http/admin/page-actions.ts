import type { Request } from 'express';
import type { AppContext } from '../../runtime/context.js';
import { auditedActions, type AuditedActions } from '../../audit/audited-actions.js';
import { pageActor } from './page-route.js';

/** The audited actions of a console request, acting as the signed-in operator (via `page`). */
export function pageActions(req: Request, ctx: AppContext): AuditedActions {
  return auditedActions(ctx, { db: ctx.db, clock: ctx.clock, actor: pageActor(req), via: 'page' });
}
