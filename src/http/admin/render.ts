import { fileURLToPath } from 'node:url';
import type { Response } from 'express';
import { Eta } from 'eta';
import type { KillSwitchState } from '../../settings/kill-switch.js';
import { viewFormat } from './format.js';
import { ADMIN_ROLES, OPERATE_ROLES, REVIEW_ROLES, roleAllows, type Role } from '../../operators/roles.js';

/**
 * The console's own views (`views/*.eta`): trusted files of drumbeat, compiled by Eta with
 * auto-escaping on, so every `<%= … %>` is HTML-escaped. Lead, campaign and message text is
 * only ever printed that way; raw output (`<%~ … %>`) is reserved for HTML a view produced
 * itself (the layout's body). Message templates never come here: they have their own language
 * (src/templates/template-language.ts) and are data to these views.
 */
const views = new Eta({
  views: fileURLToPath(new URL('./views', import.meta.url)),
  autoEscape: true,
  cache: true,
});

/** The sections of the navigation, in order; each page names the one it belongs to. */
export const ADMIN_SECTIONS = ['overview', 'campaigns', 'review', 'leads', 'imports', 'messages', 'suppressions', 'queues', 'operators', 'audit'] as const;
export type AdminSection = (typeof ADMIN_SECTIONS)[number];

/** What the signed-in operator may do, for views deciding which controls to show. */
export interface AdminPermissions {
  /** Approve, reject and edit messages in review. */
  review: boolean;
  /** Run campaigns: lifecycle, imports, suppressions, retries, resolutions, the kill switch. */
  operate: boolean;
  /** Operators, tokens, forgetting people. */
  admin: boolean;
}

/** A one-line result of the previous action, shown once at the top of the next page. */
export interface AdminNotice {
  kind: 'success' | 'error';
  text: string;
}

/** What every page's layout shows: who is signed in, the kill switch, the review count. */
export interface AdminFrame {
  operator: { email: string; role: Role };
  can: AdminPermissions;
  csrfToken: string;
  killSwitch: KillSwitchState;
  reviewWaiting: number;
  notice: AdminNotice | undefined;
}

/** The permissions of a role, read from the one definition in src/operators/roles.ts. */
export function permissionsOf(role: Role): AdminPermissions {
  return { review: roleAllows(role, REVIEW_ROLES), operate: roleAllows(role, OPERATE_ROLES), admin: roleAllows(role, ADMIN_ROLES) };
}

const frames = new WeakMap<Response, AdminFrame>();

/** Records the frame of a response; the admin pages router does this for every page request. */
export function setAdminFrame(res: Response, frame: AdminFrame): void {
  frames.set(res, frame);
}

/** Whether the admin pages router has recorded the frame of a response yet. */
export function hasAdminFrame(res: Response): boolean {
  return frames.has(res);
}

/**
 * The frame of a response of the admin pages router.
 * @throws Error when called outside that router (a wiring mistake).
 */
export function adminFrameOf(res: Response): AdminFrame {
  const frame = frames.get(res);
  if (frame === undefined) throw new Error('adminFrameOf() used on a response outside the admin pages router');
  return frame;
}

/** What a page gives the layout besides its own data. */
export interface PageData {
  /** The `<title>` and `<h1>` of the page. */
  title: string;
  /** The navigation entry marked as the current page. */
  section: AdminSection;
  [key: string]: unknown;
}

/**
 * Renders `views/<view>.eta` with `data`, the request's {@link AdminFrame} (as `it.frame`) and
 * the shared formatters (`it.fmt`),
 * inside the layout (navigation, kill switch state, sign-out), and sends it as HTML that is
 * never cached. `status` defaults to 200.
 */
export function renderAdminPage(res: Response, view: string, data: PageData, status = 200): void {
  const frame = adminFrameOf(res);
  const page = { ...data, frame, fmt: viewFormat };
  const body = views.render(`./${view}`, page);
  const html = views.render('./layout', { ...page, body });
  res.status(status).set('Cache-Control', 'no-store').type('html').send(html);
}
