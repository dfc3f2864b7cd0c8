import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AppContext } from '../../src/runtime/context.js';
import { publicFeedbackRoutes } from '../../src/http/webhooks/public-feedback-routes.js';
import { webhookRoutes } from '../../src/http/webhooks/webhook-routes.js';
import { startApp, type RunningApp } from '../http/http-harness.js';

export const webhookSecret = 'whsec-test-0123456789abcdef';
export const mailgunKey = 'mailgun-signing-key-0123456789';

/** A P-256 key pair like the one SendGrid signs with; the public half as SendGrid shows it (base64 DER). */
export function sendgridKeys(): { privateKey: KeyObject; publicKeyBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKeyBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
}

/** SendGrid's signature header value: base64 DER ECDSA over timestamp + raw body. */
export function sendgridSignature(privateKey: KeyObject, timestamp: string, body: Buffer | string): string {
  return sign('sha256', Buffer.concat([Buffer.from(timestamp), Buffer.from(body)]), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
}

/** A fixture (copied from the shared fixtures folder), as raw bytes. */
export function fixture(name: string): Buffer {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
}

/** The app with the feedback routes, on the context's config, database and clock. */
export function startFeedbackApp(ctx: AppContext): Promise<RunningApp> {
  return startApp({
    config: ctx.config,
    db: ctx.db,
    clock: ctx.clock,
    log: ctx.log,
    webhookRoutes: (router) => webhookRoutes(router, ctx),
    publicRoutes: (router) => publicFeedbackRoutes(router, ctx),
  });
}

/** Rows in the inbox, and how many of them are applied. */
export async function inboxCounts(ctx: AppContext): Promise<{ total: number; applied: number }> {
  const [row] = (await ctx.db('inbox_events').select(
    ctx.db.raw('count(*)::int AS total'),
    ctx.db.raw('count(applied_at)::int AS applied'),
  )) as Array<{ total: number; applied: number }>;
  return row ?? { total: 0, applied: 0 };
}

/** The enrollment state of a lead (by email) in a campaign. */
export async function enrollmentState(ctx: AppContext, campaignId: number, email: string): Promise<string | undefined> {
  const row = (await ctx.db('campaign_leads as cl')
    .join('leads as l', 'l.id', 'cl.lead_id')
    .where({ 'cl.campaign_id': campaignId, 'l.email': email })
    .first('cl.state')) as { state: string } | undefined;
  return row?.state;
}

/** Whether an address is suppressed (email entry, global). */
export async function isSuppressed(ctx: AppContext, email: string): Promise<boolean> {
  return (await ctx.db('suppressions').where({ kind: 'email', value: email }).first('id')) !== undefined;
}
