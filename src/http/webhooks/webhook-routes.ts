import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response, Router } from 'express';
import type { Knex } from 'knex';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../core/clock.js';
import type { QueueRegistry } from '../../jobs/queue-registry.js';
import { MalformedEventError } from '../../events/feedback-event.js';
import { inboundEvent } from '../../events/inbound-reply.js';
import { inboxService, type StoreOutcome } from '../../events/inbox-service.js';
import { genericEvents, mailgunWebhook, sendgridEvents } from '../../events/provider-events.js';
import {
  sendgridPublicKey,
  verifyDrumbeatSignature,
  verifyMailgunSignature,
  verifySendgridSignature,
  WebhookAuthError,
} from '../../events/webhook-signatures.js';

/** What the webhook routes need; they open no connections of their own. */
export interface WebhookDeps {
  config: Config;
  log: Logger;
  db: Knex;
  clock: Clock;
  queues: QueueRegistry;
}

class NotConfiguredError extends Error {}

/** The raw bytes kept by the app's `/webhooks` raw parser (empty for a request without a body). */
function rawBody(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/**
 * Provider webhooks, for a router mounted at `/webhooks`: verify first, store once, apply once.
 * Each route checks the signature over the raw bytes (and the timestamp window) before parsing
 * or storing anything, stores each event once in `inbox_events` and enqueues its apply job.
 * Answers: 200 `{ stored, duplicates, deferred }` (a duplicate delivery is acknowledged and
 * ignored), 202 when events were stored but Redis refused their apply jobs (the reconciler
 * queues them: a stored event is never answered 5xx, or the provider would retry it until it
 * gives up), 401 bad or stale signature or replayed token, 400 for a body that cannot be parsed
 * (logged with its size and SHA-256), 413 too large (the raw parser), 404 when the provider's
 * secret is not configured. Odd text never refuses a signed event: it is cleaned and stored.
 */
export function webhookRoutes(router: Router, deps: WebhookDeps): void {
  const { config, clock, log } = deps;
  const inbox = inboxService(deps);
  const tolerance = config.WEBHOOK_TOLERANCE;
  const sendgridKey = config.SENDGRID_WEBHOOK_PUBLIC_KEY === undefined ? undefined : sendgridPublicKey(config.SENDGRID_WEBHOOK_PUBLIC_KEY);

  function handle(provider: string, body: (req: Request) => Promise<StoreOutcome>) {
    return (req: Request, res: Response, next: NextFunction) => {
      body(req).then(
        (outcome) => {
          if (outcome.deferred > 0) log.warn({ provider, deferred: outcome.deferred }, 'webhook events stored; their apply jobs wait for Redis (the reconciler queues them)');
          res.status(outcome.deferred > 0 ? 202 : 200).json(outcome);
        },
        (error: unknown) => {
          if (error instanceof WebhookAuthError) {
            log.warn({ provider, reason: error.message, ip: req.ip }, 'webhook refused');
            res.status(401).json({ error: 'invalid signature' });
          } else if (error instanceof MalformedEventError) {
            const raw = rawBody(req);
            log.warn({ provider, reason: error.message, bytes: raw.length, sha256: createHash('sha256').update(raw).digest('hex'), ip: req.ip }, 'webhook body refused');
            res.status(400).json({ error: 'malformed event', detail: error.message });
          } else if (error instanceof NotConfiguredError) {
            res.status(404).json({ error: 'not found' });
          } else {
            next(error);
          }
        },
      );
    };
  }

  function drumbeatSecret(): string {
    if (config.WEBHOOK_SECRET === undefined) throw new NotConfiguredError();
    return config.WEBHOOK_SECRET;
  }

  router.post(
    '/events',
    handle('drumbeat', async (req) => {
      const raw = rawBody(req);
      verifyDrumbeatSignature(req.get('drumbeat-signature'), raw, drumbeatSecret(), clock.now(), tolerance);
      return inbox.store(genericEvents(raw), { provider: 'drumbeat', bytes: raw });
    }),
  );

  router.post(
    '/inbound',
    handle('inbound', async (req) => {
      const raw = rawBody(req);
      verifyDrumbeatSignature(req.get('drumbeat-signature'), raw, drumbeatSecret(), clock.now(), tolerance);
      return inbox.store([await inboundEvent(raw, req.get('content-type'), clock.now())], { provider: 'inbound', bytes: raw });
    }),
  );

  router.post(
    '/sendgrid',
    handle('sendgrid', async (req) => {
      if (sendgridKey === undefined) throw new NotConfiguredError();
      const raw = rawBody(req);
      verifySendgridSignature(
        req.get('x-twilio-email-event-webhook-signature'),
        req.get('x-twilio-email-event-webhook-timestamp'),
        raw,
        sendgridKey,
        clock.now(),
        tolerance,
      );
      return inbox.store(sendgridEvents(raw), { provider: 'sendgrid', bytes: raw });
    }),
  );

  router.post(
    '/mailgun',
    handle('mailgun', async (req) => {
      if (config.MAILGUN_SIGNING_KEY === undefined) throw new NotConfiguredError();
      // Mailgun signs timestamp + token, carried inside the body: it must be parsed first.
      const raw = rawBody(req);
      const webhook = mailgunWebhook(raw);
      verifyMailgunSignature(webhook.signature, config.MAILGUN_SIGNING_KEY, clock.now(), tolerance);
      return inbox.storeWithReplayToken(webhook.event, webhook.signature.token, new Date(clock.now().getTime() - 2 * tolerance), { provider: 'mailgun', bytes: raw });
    }),
  );
}
