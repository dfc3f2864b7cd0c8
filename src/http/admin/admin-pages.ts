import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import type { HttpContext } from '../http-context.js';
import { readKillSwitch } from '../../settings/kill-switch.js';
import { operatorSessionOf } from '../admin-session.js';
import { campaignPages } from './campaign-pages.js';
import { killSwitchPages } from './kill-switch-pages.js';
import { messagePages } from './message-pages.js';
import { reviewPages } from './review-pages.js';
import { auditPages } from './audit-pages.js';
import { importPages } from './import-pages.js';
import { leadPages } from './lead-pages.js';
import { operatorPages } from './operator-pages.js';
import { suppressionPages } from './suppression-pages.js';
import { takeNotice } from './notice.js';
import { overviewPage } from './overview-page.js';
import { adminPageErrors, adminPageNotFound } from './page-route.js';
import { permissionsOf, setAdminFrame } from './render.js';

/** The console's stylesheet and script, served from our own origin (the CSP allows only 'self'). */
const assetsDirectory = fileURLToPath(new URL('./static', import.meta.url));

/**
 * The operator console: server-rendered pages under `/admin`, mounted behind the session and
 * CSRF wall of src/http/admin-routes.ts. Every page gets its frame (operator, permissions, kill
 * switch, review count, the previous action's notice) before its handler runs, and every page
 * calls the same services as the JSON API. Each area adds its routes here, one function per
 * area; the last two handlers answer unknown paths and errors as pages.
 */
export function adminPages(ctx: HttpContext): Router {
  const router = express.Router();
  router.use('/assets', express.static(assetsDirectory, { index: false, fallthrough: false, maxAge: '1h' }));
  router.use((req, res, next) => {
    const session = operatorSessionOf(req);
    Promise.all([readKillSwitch(ctx.db), ctx.reviews.countWaiting()]).then(([killSwitch, reviewWaiting]) => {
      setAdminFrame(res, {
        operator: { email: session.email, role: session.role },
        can: permissionsOf(session.role),
        csrfToken: session.csrfToken,
        killSwitch,
        reviewWaiting,
        notice: takeNotice(req, res, ctx.config),
      });
      next();
    }, next);
  });
  overviewPage(router, ctx);
  killSwitchPages(router, ctx);
  campaignPages(router, ctx);
  reviewPages(router, ctx);
  messagePages(router, ctx);
  leadPages(router, ctx);
  importPages(router, ctx);
  suppressionPages(router, ctx);
  operatorPages(router, ctx);
  auditPages(router, ctx);
  router.use(adminPageNotFound);
  router.use(adminPageErrors(ctx.log));
  return router;
}
