import type { RequestHandler } from 'express';
import { roleAllows, roleRefusal, type Role } from '../operators/roles.js';
import { apiTokenOf } from './api-auth.js';

/**
 * Lets an `/api` request through only when its token's role is one of `allowed` (a token acts
 * with its owner's role; an ownerless one as `operator`); otherwise 403 with one sentence,
 * before the body is read or validated.
 * @param action - what the route does, completing "your role (viewer) may not …".
 */
export function requireRole(allowed: readonly Role[], action: string): RequestHandler {
  return (req, res, next) => {
    const { role } = apiTokenOf(req);
    if (roleAllows(role, allowed)) next();
    else res.status(403).json({ error: roleRefusal(role, action, allowed) });
  };
}
