import type { Router } from 'express';
import type { AppContext } from '../../runtime/context.js';
import { unsubscribeRoutes } from '../unsubscribe/unsubscribe-routes.js';
import { webhookRoutes } from './webhook-routes.js';

/**
 * Every unauthenticated route of the feedback area, for `createApp`'s `publicRoutes`: provider
 * webhooks (authenticated by signature) and one-click unsubscribe (by unguessable token).
 */
export function publicFeedbackRoutes(router: Router, ctx: AppContext): void {
  webhookRoutes(router, ctx);
  unsubscribeRoutes(router, ctx);
}
