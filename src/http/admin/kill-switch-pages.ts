import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { OPERATE_ROLES } from '../../operators/roles.js';
import { readKillSwitch } from '../../settings/kill-switch.js';
import { redirectWithNotice } from './notice.js';
import { pageAction, pageActions, pageRoute, requirePageRole } from './page-route.js';
import { renderAdminPage } from './render.js';

const killSwitchForm = z.object({ on: z.enum(['true', 'false']).transform((value) => value === 'true') });

/**
 * The kill switch: `GET /admin/kill-switch` is the confirmation page (what stopping or resuming
 * does, and the one button), `POST /admin/kill-switch` flips it through the same function as the
 * API and the CLI, and records who did it in the audit log.
 */
export function killSwitchPages(router: Router, ctx: HttpContext): void {
  const allowed = requirePageRole(OPERATE_ROLES, 'stop or resume all sending');
  router.get(
    '/kill-switch',
    allowed,
    pageRoute(async (_req, res) => {
      renderAdminPage(res, 'kill-switch', { title: 'Kill switch', section: 'overview', state: await readKillSwitch(ctx.db) });
    }),
  );
  router.post(
    '/kill-switch',
    allowed,
    pageAction(
      ctx.config,
      () => '/admin/kill-switch',
      async (req, res) => {
        const { on } = killSwitchForm.parse(req.body);
        const after = await pageActions(req, ctx).killSwitch(on);
        const queues = after.queuesUpdated ? '' : ' The queues could not be reached; every send gate still reads the switch.';
        redirectWithNotice(res, ctx.config, '/admin', { kind: 'success', text: (on ? 'All sending is stopped.' : 'Sending resumed.') + queues });
      },
    ),
  );
}
