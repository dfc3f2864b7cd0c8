import express, { type Router } from 'express';
import type { AppQueue } from '../jobs/queue-store.js';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import { authenticate, MAX_PASSWORD_LENGTH } from '../operators/operator-service.js';
import { loginThrottle, type LoginAttempt } from '../operators/login-throttle.js';
import { sessionService } from '../operators/session-service.js';
import {
  clearSessionCookies,
  LOGIN_PATH,
  readCookie,
  requireCsrfToken,
  requireOperatorSession,
  SESSION_COOKIE,
  setSessionCookies,
} from './admin-session.js';
import { bullBoardApp } from './bull-board.js';
import { boardAccess } from './bull-board-access.js';
import { renderLoginPage } from './login-page.js';
import { recordAudit } from '../audit/audit-log.js';
import { wantsHtml } from './negotiation.js';

/** Where Bull Board lives. */
export const QUEUES_PATH = '/admin/queues';
/** Where a browser lands after signing in: the console's overview. */
export const CONSOLE_PATH = '/admin';

const loginSchema = z.object({
  email: z.string().max(320),
  password: z.string().max(MAX_PASSWORD_LENGTH),
});

/** What {@link adminRouter} needs. */
export interface AdminRouterDeps {
  config: Pick<Config, 'PUBLIC_URL' | 'SESSION_TTL'>;
  log: Logger;
  db: Knex;
  clock: Clock;
  boardQueues: readonly AppQueue[];
  /** The operator console's pages, behind the wall (none in tests of the wall alone). */
  pages?: Router | undefined;
}

/**
 * Everything under `/admin`: the login form and its POST (open to all, throttled per account
 * and per IP), then a wall that requires a live session and, for state-changing methods, the
 * session's CSRF token; behind it, logout, Bull Board (narrowed by the operator's role) and the
 * console's pages (`pages`), which land a browser on `/admin` after sign-in. The
 * wall covers every other path, so an unknown admin path answers as a protected one does
 * instead of revealing whether it exists.
 */
export function adminRouter({ config, log, db, clock, boardQueues, pages }: AdminRouterDeps): Router {
  const sessions = sessionService({ db, clock, ttlMs: config.SESSION_TTL });
  const throttle = loginThrottle({ db, clock });
  const publicOrigin = new URL(config.PUBLIC_URL).origin;
  const router = express.Router();

  router.get('/login', (_req, res) => {
    res.set('Cache-Control', 'no-store').type('html').send(renderLoginPage());
  });

  router.post('/login', async (req, res) => {
    const html = wantsHtml(req);
    // A sign-in started from another site is login CSRF (signing the victim in as the
    // attacker); browsers label such requests, and the session cookie does not exist yet.
    const fetchSite = req.get('sec-fetch-site');
    if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') {
      res.status(403).json({ error: 'cross-site sign-in refused' });
      return;
    }
    // Browsers send Origin with every POST; one that is not ours is a form on another site
    // (older browsers label nothing with Sec-Fetch-Site). Clients that send none are not browsers.
    const origin = req.get('origin');
    if (origin !== undefined && origin !== publicOrigin) {
      res.status(403).json({ error: 'sign-in from another origin refused' });
      return;
    }
    const credentials = loginSchema.safeParse(req.body);
    if (!credentials.success) {
      if (html) res.status(400).type('html').send(renderLoginPage({ error: 'Enter your email and password.' }));
      else res.status(400).json({ error: 'email and password are required' });
      return;
    }
    const attempt: LoginAttempt = { account: credentials.data.email.trim().toLowerCase(), ip: req.ip ?? 'unknown' };
    const decision = await throttle.admit(attempt);
    if (!decision.admitted) {
      log.warn({ event: 'admin_login_throttled', email: attempt.account, ip: attempt.ip, retryAfterSeconds: decision.retryAfterSeconds }, 'admin sign-in refused: too many attempts');
      res.status(429).set('Retry-After', String(decision.retryAfterSeconds));
      const message = `Too many sign-in attempts; try again in ${decision.retryAfterSeconds} seconds.`;
      if (html) res.type('html').send(renderLoginPage({ email: credentials.data.email, error: message }));
      else res.json({ error: `too many sign-in attempts; try again in ${decision.retryAfterSeconds} seconds` });
      return;
    }
    const operator = await authenticate(db, credentials.data.email, credentials.data.password, clock);
    if (operator === undefined) {
      // The email may be logged (it is what was typed, known or not); the password never is.
      log.warn({ event: 'admin_login_failed', email: attempt.account, ip: attempt.ip }, 'admin sign-in refused');
      if (html) res.status(401).type('html').send(renderLoginPage({ email: credentials.data.email, error: 'Wrong email or password.' }));
      else res.status(401).json({ error: 'wrong email or password' });
      return;
    }
    await throttle.succeeded(attempt);
    // A fresh id on every sign-in, and the previous session ended, so a planted id is useless.
    const previousSessionId = readCookie(req, SESSION_COOKIE);
    if (previousSessionId !== undefined) await sessions.end(previousSessionId);
    const session = await sessions.start(operator.id);
    log.info({ event: 'admin_login', operatorId: operator.id, role: operator.role }, 'operator signed in');
    await recordAudit(db, { actor: operator.email, via: html ? 'page' : 'api', action: 'sign-in', subjectType: 'operator', subjectId: String(operator.id) }, clock.now());
    setSessionCookies(res, config, session);
    res.set('Cache-Control', 'no-store');
    if (html) res.redirect(303, CONSOLE_PATH);
    else res.json({ ok: true, email: operator.email, role: operator.role, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() });
  });

  router.use(requireOperatorSession(sessions, config));
  router.use(requireCsrfToken);

  router.post('/logout', async (req, res) => {
    const sessionId = readCookie(req, SESSION_COOKIE);
    if (sessionId !== undefined) await sessions.end(sessionId);
    clearSessionCookies(res, config);
    if (wantsHtml(req)) res.redirect(303, LOGIN_PATH);
    else res.json({ ok: true });
  });

  router.use('/queues', boardAccess(), bullBoardApp({ queues: boardQueues, basePath: QUEUES_PATH, log }));
  if (pages !== undefined) router.use(pages);
  return router;
}
