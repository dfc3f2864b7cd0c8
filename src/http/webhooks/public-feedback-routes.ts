import type { Router } from 'express';
import type { HttpContext } from '../http-context.js';
import { formRoutes } from '../forms/form-routes.js';
import { unsubscribeRoutes } from '../unsubscribe/unsubscribe-routes.js';

/**
 * The unauthenticated pages and forms of the feedback area, for `createApp`'s `publicRoutes`:
 * one-click unsubscribe (by unguessable token) and lead capture forms (honeypot and per-IP
 * rate limit). Provider webhooks are `webhookRoutes`, mounted on their own.
 */
export function publicFeedbackRoutes(router: Router, ctx: HttpContext): void {
  unsubscribeRoutes(router, ctx);
  formRoutes(router, ctx);
}
