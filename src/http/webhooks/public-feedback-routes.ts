import type { Router } from 'express';
import type { AppContext } from '../../runtime/context.js';
import { formRoutes } from '../forms/form-routes.js';
import { unsubscribeRoutes } from '../unsubscribe/unsubscribe-routes.js';
import { webhookRoutes } from './webhook-routes.js';

/**
 * Every unauthenticated route of the feedback area, for `createApp`'s `publicRoutes`: provider
 * webhooks (authenticated by signature), one-click unsubscribe (by unguessable token) and
 * lead capture forms (honeypot and per-IP rate limit).
 */
export function publicFeedbackRoutes(router: Router, ctx: AppContext): void {
  webhookRoutes(router, ctx);
  unsubscribeRoutes(router, ctx);
  formRoutes(router, ctx);
}
