import type { Request, RequestHandler } from 'express';
import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import { verifyApiToken, type ApiToken } from '../operators/api-token-service.js';

const tokens = new WeakMap<Request, ApiToken>();
const bearerPattern = /^Bearer +(\S+) *$/i;

/**
 * The API token a request was authenticated with, for routes behind {@link requireApiToken}
 * (to record who did something).
 * @throws Error when called on a route that is not behind it (a wiring mistake).
 */
export function apiTokenOf(req: Request): ApiToken {
  const token = tokens.get(req);
  if (token === undefined) throw new Error('apiTokenOf() used on a route without requireApiToken');
  return token;
}

/**
 * Lets a request through only with `Authorization: Bearer <token>` naming a live API token.
 * Otherwise 401 JSON with a `WWW-Authenticate: Bearer` challenge (RFC 6750), which adds
 * `error="invalid_token"` when a token was presented but refused.
 */
export function requireApiToken({ db, clock }: { db: Knex; clock: Clock }): RequestHandler {
  return async (req, res, next) => {
    const presented = bearerPattern.exec(req.get('authorization') ?? '')?.[1];
    const token = presented === undefined ? undefined : await verifyApiToken(db, presented, clock);
    if (token === undefined) {
      const challenge = presented === undefined ? 'Bearer realm="drumbeat"' : 'Bearer realm="drumbeat", error="invalid_token"';
      res.status(401).set('WWW-Authenticate', challenge).json({ error: 'a valid API token is required (Authorization: Bearer <token>)' });
      return;
    }
    tokens.set(req, token);
    next();
  };
}
