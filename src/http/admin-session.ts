import { createHash, timingSafeEqual } from 'node:crypto';
import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import type { Config } from '../config/config.js';
import type { OperatorSession, SessionService, StartedSession } from '../operators/session-service.js';
import { wantsHtml } from './negotiation.js';

/** The HttpOnly cookie holding the admin session id. */
export const SESSION_COOKIE = 'drumbeat_session';
/**
 * The readable cookie holding the session's CSRF token. The name is axios's default
 * `xsrfCookieName`: Bull Board's UI uses axios, which copies this cookie into an
 * `X-XSRF-TOKEN` header on every same-origin request, so the board works unchanged.
 */
export const XSRF_COOKIE = 'XSRF-TOKEN';
/** Where a browser without a session is sent. */
export const LOGIN_PATH = '/admin/login';

const ADMIN_COOKIE_PATH = '/admin';
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);
const sessions = new WeakMap<Request, OperatorSession>();

/** The cookie value sent with a request, if it is a string. */
export function readCookie(req: Request, name: string): string | undefined {
  const value: unknown = req.cookies[name];
  return typeof value === 'string' ? value : undefined;
}

function cookieOptions(config: Pick<Config, 'PUBLIC_URL'>, path: string, httpOnly: boolean): CookieOptions {
  return { httpOnly, sameSite: 'strict', path, secure: new URL(config.PUBLIC_URL).protocol === 'https:' };
}

/** Sets the session cookie and the XSRF cookie, both expiring with the session. */
export function setSessionCookies(res: Response, config: Pick<Config, 'PUBLIC_URL'>, session: StartedSession): void {
  const expires = session.expiresAt;
  res.cookie(SESSION_COOKIE, session.sessionId, { ...cookieOptions(config, '/', true), expires });
  res.cookie(XSRF_COOKIE, session.csrfToken, { ...cookieOptions(config, ADMIN_COOKIE_PATH, false), expires });
}

/** Tells the browser to forget both session cookies (the attributes must match how they were set). */
export function clearSessionCookies(res: Response, config: Pick<Config, 'PUBLIC_URL'>): void {
  res.clearCookie(SESSION_COOKIE, cookieOptions(config, '/', true));
  res.clearCookie(XSRF_COOKIE, cookieOptions(config, ADMIN_COOKIE_PATH, false));
}

/**
 * The operator session of a request that passed {@link requireOperatorSession}.
 * @throws Error when called on a route that is not behind it (a wiring mistake).
 */
export function operatorSessionOf(req: Request): OperatorSession {
  const session = sessions.get(req);
  if (session === undefined) throw new Error('operatorSessionOf() used on a route without requireOperatorSession');
  return session;
}

/**
 * Lets a request through only with a live session cookie. Without one, a browser navigating
 * is redirected to the login page and any other client gets 401 JSON; a stale cookie is cleared.
 */
export function requireOperatorSession(sessionService: SessionService, config: Pick<Config, 'PUBLIC_URL'>): RequestHandler {
  return async (req, res, next) => {
    const sessionId = readCookie(req, SESSION_COOKIE);
    const session = sessionId === undefined ? undefined : await sessionService.resolve(sessionId);
    if (session === undefined) {
      if (sessionId !== undefined) clearSessionCookies(res, config);
      if (wantsHtml(req)) res.redirect(302, LOGIN_PATH);
      else res.status(401).json({ error: 'sign in at /admin/login first' });
      return;
    }
    sessions.set(req, session);
    next();
  };
}

/** Constant-time equality of two secrets of any length (compares their SHA-256 digests). */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function bodyCsrfToken(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('_csrf' in body)) return undefined;
  return typeof body._csrf === 'string' ? body._csrf : undefined;
}

/**
 * Refuses (403) a state-changing request that does not carry the session's CSRF token in
 * `x-csrf-token`, `x-xsrf-token` (what axios sends) or a `_csrf` body field. Must run after
 * {@link requireOperatorSession}. The SameSite=Strict cookie already stops most cross-site
 * requests; the token also covers older browsers and same-site (sibling subdomain) attackers.
 */
export const requireCsrfToken: RequestHandler = (req, res, next) => {
  if (safeMethods.has(req.method)) {
    next();
    return;
  }
  const session = operatorSessionOf(req);
  const presented = req.get('x-csrf-token') ?? req.get('x-xsrf-token') ?? bodyCsrfToken(req.body);
  if (presented === undefined || !sameSecret(presented, session.csrfToken)) {
    res.status(403).json({ error: 'missing or invalid CSRF token' });
    return;
  }
  next();
};
