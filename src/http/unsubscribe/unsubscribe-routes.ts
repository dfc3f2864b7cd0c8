import type { NextFunction, Request, Response, Router } from 'express';
import type { Knex } from 'knex';
import type { Clock } from '../../core/clock.js';
import { escapeHtml } from '../login-page.js';
import { unsubscribeService } from '../../leads/unsubscribe-service.js';

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; color: #1f2328; }
  button { font: inherit; padding: 0.6rem 1.2rem; border: 0; border-radius: 4px; background: #1f6feb; color: #fff; cursor: pointer; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>`;
}

function answer(req: Request, res: Response, status: number, title: string, html: string, json: Record<string, unknown>): void {
  // Nothing here is personal to a session: no cookies are read or set, and no page is cached.
  res.status(status).set('Cache-Control', 'no-store');
  if (req.accepts(['html', 'json']) === 'json') res.json(json);
  else res.type('html').send(page(title, html));
}

/**
 * `GET /u/:token` shows a confirmation page and changes nothing (mail scanners follow links);
 * `POST /u/:token` is the RFC 8058 one-click unsubscribe: no cookies, no redirect, 200 when
 * done. A forged or unknown token answers 404 and changes nothing.
 */
export function unsubscribeRoutes(router: Router, deps: { db: Knex; clock: Clock }): void {
  const unsubscribes = unsubscribeService(deps);
  const notFound = (req: Request, res: Response) =>
    answer(req, res, 404, 'Link not valid', '<p>This unsubscribe link is not valid. Nothing was changed.</p>', { error: 'unknown token' });

  router.get('/u/:token', (req: Request<{ token: string }>, res: Response, next: NextFunction) => {
    unsubscribes.find(req.params.token).then((target) => {
      if (target === undefined) return notFound(req, res);
      const action = `/u/${encodeURIComponent(req.params.token)}`;
      answer(
        req,
        res,
        200,
        'Unsubscribe',
        `<p>Stop all email from ${escapeHtml(target.campaignName)} and every other drumbeat campaign to this address?</p>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
        { campaign: target.campaignName, unsubscribed: false },
      );
    }, next);
  });

  router.post('/u/:token', (req: Request<{ token: string }>, res: Response, next: NextFunction) => {
    unsubscribes.unsubscribe(req.params.token).then((target) => {
      if (target === undefined) return notFound(req, res);
      answer(req, res, 200, 'Unsubscribed', '<p>You are unsubscribed and will receive no more email from us.</p>', { unsubscribed: true });
    }, next);
  });
}
