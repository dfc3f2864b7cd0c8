import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { NotFoundError } from '../../core/domain-error.js';
import { findLeadListing, leadMessages, searchLeads } from '../../leads/lead-directory.js';
import { leadTimeline } from '../../leads/lead-privacy.js';
import { listContactEvents } from '../../leads/contact-event-store.js';
import { ADMIN_ROLES } from '../../operators/roles.js';
import { cursorId, idParam } from '../params.js';
import { redirectWithNotice } from './notice.js';
import { pageAction, pageActions, pageRoute, requirePageRole } from './page-route.js';
import { renderAdminPage } from './render.js';

/** Leads per page of the search. */
const LEADS_PER_PAGE = 50;

const searchQuery = z.object({
  q: z.string().max(320).optional(),
  after: cursorId.optional(),
});

/**
 * Leads (`/admin/leads`): search by email, name or company (keyset-paged), and a lead's page
 * with its enrollments, every message with its status and text, its timeline (events,
 * replies, unsubscribes) and suppressions. "Forget this person" (admins; after a confirmation
 * page) erases them through the privacy service, audited by identity hash only.
 */
export function leadPages(router: Router, ctx: HttpContext): void {
  const adminsOnly = requirePageRole(ADMIN_ROLES, 'forget people');

  router.get(
    '/leads',
    pageRoute(async (req, res) => {
      const query = searchQuery.parse(req.query);
      const text = query.q?.trim() ?? '';
      const found = await searchLeads(ctx.db, { text, afterId: query.after }, LEADS_PER_PAGE + 1);
      const leads = found.slice(0, LEADS_PER_PAGE);
      const last = leads[leads.length - 1];
      const next = found.length > LEADS_PER_PAGE && last !== undefined ? `/admin/leads?${new URLSearchParams({ q: text, after: String(last.id) }).toString()}` : null;
      renderAdminPage(res, 'leads', { title: 'Leads', section: 'leads', q: text, leads, nextHref: next });
    }),
  );

  router.get(
    '/leads/:id',
    pageRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const lead = await findLeadListing(ctx.db, id);
      if (lead === undefined) throw new NotFoundError(`lead ${id} does not exist`);
      const timeline = lead.email === null ? undefined : await leadTimeline(ctx.db, lead.email);
      const [messages, events] = await Promise.all([leadMessages(ctx.db, id), timeline === undefined ? listContactEvents(ctx.db, id) : Promise.resolve(timeline.events)]);
      renderAdminPage(res, 'lead', {
        title: lead.email ?? `Lead ${id} (erased)`,
        section: 'leads',
        lead,
        enrollments: timeline?.enrollments ?? [],
        suppressions: timeline?.suppressions ?? [],
        messages,
        events: events.map((event) => ({ ...event, dataText: Object.keys(event.data).length === 0 ? null : JSON.stringify(event.data) })),
      });
    }),
  );

  router.get(
    '/leads/:id/forget',
    adminsOnly,
    pageRoute(async (req, res) => {
      const { id } = idParam.parse(req.params);
      const lead = await findLeadListing(ctx.db, id);
      if (lead === undefined) throw new NotFoundError(`lead ${id} does not exist`);
      renderAdminPage(res, 'lead-forget', { title: 'Forget this person', section: 'leads', lead });
    }),
  );

  router.post(
    '/leads/:id/forget',
    adminsOnly,
    pageAction(
      ctx.config,
      (req) => `/admin/leads/${String(req.params.id)}`,
      async (req, res) => {
        const { id } = idParam.parse(req.params);
        const lead = await findLeadListing(ctx.db, id);
        if (lead === undefined) throw new NotFoundError(`lead ${id} does not exist`);
        if (lead.email === null) {
          redirectWithNotice(res, ctx.config, `/admin/leads/${id}`, { kind: 'success', text: `Lead ${id} was already forgotten.` });
          return;
        }
        await pageActions(req, ctx).forgetLead(lead.email);
        redirectWithNotice(res, ctx.config, `/admin/leads/${id}`, { kind: 'success', text: `Lead ${id} forgotten: their data is erased everywhere and their identity stays suppressed.` });
      },
    ),
  );
}
