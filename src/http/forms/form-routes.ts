import type { NextFunction, Request, Response, Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Config } from '../../config/config.js';
import type { Clock } from '../../core/clock.js';
import { captureLeads } from '../../leads/lead-capture.js';
import { wantsHtml } from '../negotiation.js';
import type { FormRateLimit } from './form-rate-limit.js';
import { findCampaignBySlug } from '../../campaigns/campaign-store.js';

/** The hidden field bots fill in and people never see: a filled one is accepted and dropped. */
export const HONEYPOT_FIELD = 'website';

const field = z.string().max(2000).optional();

/** A form submission as sent by an HTML form (snake_case) or a script (camelCase). */
const formSchema = z.looseObject({
  email: z.string().max(320).default(''),
  first_name: field,
  firstName: field,
  last_name: field,
  lastName: field,
  name: field,
  company: field,
  consent: z.union([z.string().max(20), z.boolean()]).optional(),
  utm_source: field,
  utm_medium: field,
  utm_campaign: field,
  utm_content: field,
  utm_term: field,
  referrer: field,
  [HONEYPOT_FIELD]: field,
});

function granted(value: string | boolean | undefined): boolean {
  return value === true || (typeof value === 'string' && ['on', 'yes', 'true', '1', 'granted'].includes(value.trim().toLowerCase()));
}

export interface FormDeps {
  config: Config;
  db: Knex;
  clock: Clock;
  formRateLimit: FormRateLimit;
}

/**
 * `POST /forms/:campaignSlug` (urlencoded or JSON): captures one lead with its consent and
 * attribution (UTM parameters, referrer), updating it if the same address submits again, and
 * enrolls it when the campaign is ACTIVE. A filled honeypot field is answered as a success and
 * stored nowhere; more than `FORM_RATE_PER_MINUTE` submissions a minute from one IP get 429.
 * Answers JSON, or a 303 to `FORM_THANK_YOU_URL` for a browser when that is set.
 */
export function formRoutes(router: Router, deps: FormDeps): void {
  const { config, db } = deps;

  function done(req: Request, res: Response, status: number, body: Record<string, unknown>): void {
    if (status === 200 && config.FORM_THANK_YOU_URL !== undefined && wantsHtml(req)) res.redirect(303, config.FORM_THANK_YOU_URL);
    else res.status(status).json(body);
  }

  router.post('/forms/:campaignSlug', (req: Request<{ campaignSlug: string }>, res: Response, next: NextFunction) => {
    const handle = async () => {
      const limited = await deps.formRateLimit.overRate(req.ip ?? 'unknown').catch(() => undefined);
      if (limited === undefined) {
        // The counter's store is away: refuse rather than run without the rate limit.
        res.status(503).set('Retry-After', '10').json({ error: 'temporarily unavailable' });
        return;
      }
      if (limited) {
        res.status(429).set('Retry-After', '60').json({ error: 'too many submissions; try again in a minute' });
        return;
      }
      const campaign = await findCampaignBySlug(db, req.params.campaignSlug);
      if (campaign === undefined || campaign.status === 'ARCHIVED') {
        res.status(404).json({ error: 'no such form' });
        return;
      }
      const body = formSchema.safeParse(req.body ?? {});
      if (!body.success) {
        res.status(400).json({ error: 'invalid submission', detail: z.prettifyError(body.error) });
        return;
      }
      const form = body.data;
      const honeypot = form[HONEYPOT_FIELD];
      if (typeof honeypot === 'string' && honeypot.trim() !== '') {
        done(req, res, 200, { ok: true });
        return;
      }
      const [first, ...rest] = (form.name ?? '').trim().split(/\s+/);
      const report = await captureLeads(
        deps,
        campaign.id,
        [
          {
            email: form.email,
            first_name: form.first_name ?? form.firstName ?? (first === '' ? undefined : first),
            last_name: form.last_name ?? form.lastName ?? (rest.length > 0 ? rest.join(' ') : undefined),
            company: form.company,
            utm_source: form.utm_source,
            utm_medium: form.utm_medium,
            utm_campaign: form.utm_campaign,
            utm_content: form.utm_content,
            utm_term: form.utm_term,
            referrer: form.referrer ?? req.get('referer'),
            consent: granted(form.consent) ? 'GRANTED' : undefined,
            custom: {},
          },
        ],
        { attribution: { source: 'form', sourceRef: req.params.campaignSlug }, enroll: campaign.status === 'ACTIVE' },
      );
      const error = report.errors[0];
      if (error !== undefined) {
        res.status(400).json({ error: 'invalid submission', detail: error.reason });
        return;
      }
      // A suppressed address gets the same answer as anyone: the form must not reveal who opted out.
      done(req, res, 200, { ok: true });
    };
    handle().catch(next);
  });
}
