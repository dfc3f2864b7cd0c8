import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { ZodError } from 'zod';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import type { HttpContext } from '../http-context.js';
import { auditedActions, type AuditedActions } from '../../audit/audited-actions.js';
import { DomainError, type DomainErrorKind } from '../../core/domain-error.js';
import { roleAllows, roleRefusal, type Role } from '../../operators/roles.js';
import { operatorSessionOf } from '../admin-session.js';
import { isRedisUnavailable } from '../redis-guard.js';
import { redirectWithNotice } from './notice.js';
import { hasAdminFrame, renderAdminPage } from './render.js';

/** An async page or action handler. */
export type PageHandler = (req: Request, res: Response) => Promise<void>;

/** Who acts, as the audit log and the services record it: the signed-in operator's email. */
export function pageActor(req: Request): string {
  return operatorSessionOf(req).email;
}

/**
 * The audited actions of a page request (src/audit/audited-actions.ts): each calls the service
 * that owns the rule, as the API and the CLI do, and records the signed-in operator (via `page`).
 */
export function pageActions(req: Request, ctx: HttpContext): AuditedActions {
  return auditedActions(ctx, { db: ctx.db, clock: ctx.clock, actor: pageActor(req), via: 'page' });
}

const statusOfKind: Record<DomainErrorKind, number> = { 'not-found': 404, conflict: 409, invalid: 400, 'too-large': 413, unavailable: 503 };

/** An error an operator can act on, as a status and one sentence; undefined for anything else. */
export function refusalOf(error: unknown): { status: number; message: string } | undefined {
  if (error instanceof DomainError) return { status: statusOfKind[error.kind], message: error.message };
  if (error instanceof ZodError) {
    return { status: 400, message: error.issues.map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`)).join('; ') };
  }
  if (isRedisUnavailable(error)) return { status: 503, message: 'The queue store (Redis) is unavailable; nothing was changed. Try again shortly.' };
  return undefined;
}

/** A GET page: whatever it throws is rendered by {@link adminPageErrors} as a page. */
export function pageRoute(handler: PageHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    handler(req, res).catch(next);
  };
}

/**
 * A form post that goes back to a page when done: a refusal the operator can act on from that
 * page (a state that does not allow it, 409; Redis down, 503) returns to `back(req)` with the
 * refusal as the notice. Anything else (invalid input, a missing entity, a failure) goes to
 * {@link adminPageErrors}, which answers with its status.
 */
export function pageAction(config: Pick<Config, 'PUBLIC_URL'>, back: (req: Request) => string, handler: PageHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    handler(req, res).catch((error: unknown) => {
      const refusal = refusalOf(error);
      if (refusal === undefined || (refusal.status !== 409 && refusal.status !== 503) || res.headersSent) {
        next(error);
        return;
      }
      redirectWithNotice(res, config, back(req), { kind: 'error', text: refusal.message });
    });
  };
}

/**
 * Lets a page request through only when the operator's role is one of `allowed`; otherwise a
 * 403 page saying which roles may (the same sentence as the API's refusal). Pages hide the
 * controls a role may not use; this answers anyone who posts anyway.
 * @param action - completes "your role (viewer) may not …".
 */
export function requirePageRole(allowed: readonly Role[], action: string): RequestHandler {
  return (req, res, next) => {
    const { role } = operatorSessionOf(req);
    if (roleAllows(role, allowed)) {
      next();
      return;
    }
    renderAdminPage(res, 'error', { title: 'Not allowed', section: 'overview', message: `${roleRefusal(role, action, allowed)}.` }, 403);
  };
}

/** A page for an admin path that does not exist. */
export const adminPageNotFound: RequestHandler = (_req, res) => {
  renderAdminPage(res, 'error', { title: 'Not found', section: 'overview', message: 'There is no such page.' }, 404);
};

/**
 * The error handler of the admin pages: a refusal is a page with its status and sentence;
 * anything else is logged with its stack and shown as a generic 500 page, so no message, stack
 * or secret reaches the browser.
 */
export function adminPageErrors(log: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const refusal = refusalOf(error);
    if (!hasAdminFrame(res)) {
      // The layout's own reads failed (the database is down): no page can be drawn.
      if (refusal === undefined) log.error({ err: error, method: req.method, path: req.path }, 'admin page failed');
      res.status(refusal?.status ?? 500).json({ error: refusal?.message ?? 'internal server error' });
      return;
    }
    if (refusal !== undefined) {
      renderAdminPage(res, 'error', { title: refusal.status === 404 ? 'Not found' : 'Refused', section: 'overview', message: refusal.message }, refusal.status);
      return;
    }
    log.error({ err: error, method: req.method, path: req.path }, 'admin page failed');
    renderAdminPage(res, 'error', { title: 'Something went wrong', section: 'overview', message: 'The page could not be shown; the error is in the api log.' }, 500);
  };
}
