import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../config/duration.js';
import { bodyFormatSchema } from '../core/message-body.js';
import { channelSchema } from '../core/channels.js';
import { DomainError } from '../core/domain-error.js';
import { templateProblems } from '../templates/validate.js';
import { segmentNameSchema } from '../segments/segment-rules.js';

export const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof weekdays)[number];

/** The longest step delay: a year. Longer is a typo, and would overflow the schedule. */
const maxDelayMs = 365 * 86_400_000;

const duration = z.union([z.string().max(100), z.number().int().nonnegative()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${String(value).slice(0, 40)}" is not a duration (e.g. 0s, 30s, 5m, 2h, 3d)` });
    return z.NEVER;
  }
  if (ms > maxDelayMs) {
    ctx.addIssue({ code: 'custom', message: `"${String(value).slice(0, 40)}" is longer than a year (365d)` });
    return z.NEVER;
  }
  return ms;
});

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time as HH:MM (24-hour)');

const timezone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'an IANA time zone such as Europe/London');

/** Header-safe text: a CR or LF here would let a value inject mail headers. */
const singleLine = (what: string) => z.string().refine((value) => !/[\r\n]/.test(value), `${what} may not contain line breaks`);

export const sendWindowSchema = z
  .object({
    days: z.array(z.enum(weekdays)).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    start: clockTime,
    end: clockTime,
  })
  .refine((window) => window.start < window.end, { message: 'start must be before end', path: ['end'] });
export type SendWindow = z.infer<typeof sendWindowSchema>;

/** Names a registered template (campaign-scoped first, else global), resolved when the campaign is saved. */
const templateName = z.string().trim().min(1).max(100);

/**
 * The format of inline body text: `text` (values as they are; the email's HTML part is made
 * from it) or `html` (values HTML-escaped; sent as the HTML part). A template brings its own.
 */
const bodyFormat = bodyFormatSchema.default('text');

/** One A/B variant of a step: a weight and either a template reference or inline text. */
export const variantSpecSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, _ and - (at most 40)'),
    weight: z.number().int().positive().max(1000).default(1),
    template: templateName.optional(),
    subject: singleLine('subject').optional(),
    body: z.string().min(1).optional(),
    format: bodyFormat,
    /** What the variant argues (`pain-point`, `social-proof`): narrative memory learns per segment and angle. */
    angle: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'lower-case words joined by dashes (e.g. pain-point)').max(40).optional(),
  })
  .strict()
  .refine((variant) => (variant.template === undefined) !== (variant.body === undefined), 'a variant has either a template or a body');

/** How a step with variants picks one per lead: a stable hash over the weights, or learnt from replies. */
export const variantSelections = ['weighted', 'thompson'] as const;
export type VariantSelection = (typeof variantSelections)[number];
export type VariantSpec = z.infer<typeof variantSpecSchema>;

export const stepSpecSchema = z
  .object({
    channel: channelSchema,
    delay: duration.default(0),
    /** Without one, a later email step is a follow-up: `Re: <the last email's subject>`, in its thread. */
    subject: singleLine('subject').optional(),
    body: z.string().min(1).optional(),
    format: bodyFormat,
    /** An email step with its own subject that still replies in the thread of the last email sent. */
    thread: z.boolean().default(false),
    template: templateName.optional(),
    variants: z
      .array(variantSpecSchema)
      .min(2)
      .max(10)
      .refine((variants) => new Set(variants.map((variant) => variant.name)).size === variants.length, 'variant names must be unique')
      .optional(),
    /** `thompson`: each message's variant is drawn from what the lead's segment replied to so far. */
    variantSelection: z.enum(variantSelections).default('weighted'),
    /** Under `thompson`: sends every variant needs in a segment before replies decide (until then, the least sent goes). */
    minSendsPerVariant: z.number().int().positive().max(1_000_000).default(20),
    stopOnReply: z.boolean().default(true),
    requireReview: z.boolean().default(false),
    /** Ask the LLM for an opening line written from the lead's fields (the `compose` queue). */
    personalize: z.object({ prompt: z.string().trim().min(1).max(2000) }).strict().optional(),
  })
  .strict()
  .refine(
    (step) => [step.body, step.template, step.variants].filter((content) => content !== undefined).length === 1,
    'a step has exactly one of body (inline text), template (a registered name) or variants',
  )
  .refine((step) => step.variantSelection === 'weighted' || step.variants !== undefined, {
    message: 'thompson selection chooses between variants; this step has none',
    path: ['variantSelection'],
  });
export type StepSpec = z.infer<typeof stepSpecSchema>;

/** One public post of the content calendar. */
export const postSpecSchema = z
  .object({
    platform: z.enum(['linkedin', 'x', 'instagram']),
    text: z.string().trim().min(1).max(3000),
    mediaUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** When to publish, as an ISO 8601 date-time with an offset. */
    at: z.iso.datetime({ offset: true }).transform((value) => new Date(value)),
    requireReview: z.boolean().default(false),
  })
  .strict()
  .refine((post) => post.platform !== 'instagram' || post.mediaUrl !== undefined, { message: 'an Instagram post needs a mediaUrl', path: ['mediaUrl'] })
  .refine((post) => post.platform !== 'x' || post.text.length <= 280, { message: 'an X post is at most 280 characters', path: ['text'] });
export type PostSpec = z.infer<typeof postSpecSchema>;

/**
 * The deliverability guard of a LIVE campaign: when, over the last 7 days and with at least
 * `minSends` email sends, hard bounces or complaints per send exceed their rate, drumbeat pauses
 * the campaign with the numbers.
 */
export const guardSettingsSchema = z
  .object({
    /** @defaultValue 0.05 (5 %) */
    maxHardBounceRate: z.number().gt(0).max(1).default(0.05),
    /** @defaultValue 0.003 (0.3 %) */
    maxComplaintRate: z.number().gt(0).max(1).default(0.003),
    /** @defaultValue 50 */
    minSends: z.number().int().positive().max(10_000_000).default(50),
  })
  .strict();
export type GuardSettings = z.infer<typeof guardSettingsSchema>;

/** `guard: off` (or `false`) turns the guard off; an object sets its thresholds; absent, the defaults apply. */
const guardSpec = z
  .union([z.literal('off'), z.literal(false), guardSettingsSchema], { error: 'guard is "off" or { maxHardBounceRate, maxComplaintRate, minSends }' })
  .prefault({})
  .transform((guard): GuardSettings | null => (guard === 'off' || guard === false ? null : guard));

export const campaignSpecSchema = z
  .object({
    name: singleLine('name').pipe(z.string().trim().min(1).max(200)),
    slug: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'lower-case letters, digits and single dashes'),
    mode: z.enum(['PROOF', 'LIVE']).default('PROOF'),
    timezone: timezone.default('UTC'),
    sendWindow: sendWindowSchema.optional(),
    dailyCap: z.number().int().positive().optional(),
    tickEvery: duration.default(30_000).pipe(z.number().min(1000, 'at least 1s').max(86_400_000, 'at most 1d')),
    requireReview: z.boolean().default(false),
    onReject: z.enum(['SKIP_STEP', 'END_LEAD']).default('SKIP_STEP'),
    from: z.object({ name: singleLine('from.name'), email: z.email() }).strict().optional(),
    replyTo: z.email().optional(),
    /** Custom lead fields inline step text may use as `it.lead.custom.<name>`. */
    customFields: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).default([]),
    steps: z.array(stepSpecSchema).min(1).max(50),
    /** When personalisation cannot run (LLM slow, down, over budget): send the plain template, or hold for review. */
    llmFallback: z.enum(['TEMPLATE', 'REVIEW']).default('TEMPLATE'),
    /** The content calendar: public posts published at their time. */
    posts: z.array(postSpecSchema).max(1000).default([]),
    /**
     * Named segments (`drumbeat segment add`) that label each lead at enrollment: the first that
     * matches, in this order. For learning and reports; they do not filter who is enrolled.
     */
    segments: z
      .array(segmentNameSchema)
      .max(50)
      .refine((names) => new Set(names).size === names.length, 'segment names must be unique')
      .default([]),
    /** The deliverability guard (LIVE campaigns); `off` to opt out. */
    guard: guardSpec,
  })
  .strict()
  .superRefine((spec, ctx) => {
    const firstEmailStep = spec.steps.findIndex((step) => step.channel === 'email');
    spec.steps.forEach((step, index) => {
      if (step.channel === 'email' && spec.from === undefined) {
        ctx.addIssue({ code: 'custom', path: ['from'], message: `step ${index + 1} sends email, so "from" is required` });
      }
      // Later email steps without a subject are follow-ups in the thread the first one starts.
      if (index === firstEmailStep) {
        if (step.body !== undefined && step.subject === undefined) {
          ctx.addIssue({ code: 'custom', path: ['steps', index, 'subject'], message: 'the first email step needs a subject' });
        }
        (step.variants ?? []).forEach((variant, v) => {
          if (variant.body !== undefined && variant.subject === undefined) {
            ctx.addIssue({ code: 'custom', path: ['steps', index, 'variants', v, 'subject'], message: 'the first email step needs a subject' });
          }
        });
      }
      if (step.channel !== 'email') {
        const textOnly = `${step.channel} messages are plain text; only email can be html`;
        if (step.format === 'html') ctx.addIssue({ code: 'custom', path: ['steps', index, 'format'], message: textOnly });
        (step.variants ?? []).forEach((variant, v) => {
          if (variant.format === 'html') ctx.addIssue({ code: 'custom', path: ['steps', index, 'variants', v, 'format'], message: textOnly });
        });
        if (step.thread) ctx.addIssue({ code: 'custom', path: ['steps', index, 'thread'], message: 'only email steps thread' });
      }
      // Inline text is validated like a saved template: it compiles and uses only known variables.
      const inline = [
        { path: ['steps', index], subject: step.subject, body: step.body },
        ...(step.variants ?? []).map((variant, v) => ({ path: ['steps', index, 'variants', v], subject: variant.subject, body: variant.body })),
      ];
      for (const text of inline) {
        if (text.body === undefined) continue;
        const problems = [
          ...(text.subject === undefined ? [] : templateProblems(text.subject, { customFields: spec.customFields, part: 'subject' })),
          ...templateProblems(text.body, { customFields: spec.customFields, part: 'body' }),
        ];
        for (const problem of problems) {
          ctx.addIssue({
            code: 'custom',
            path: [...text.path, problem.part],
            message: `${problem.line === undefined ? '' : `line ${problem.line}: `}${problem.message}`,
          });
        }
      }
    });
  });
export type CampaignSpec = z.infer<typeof campaignSpecSchema>;
export type CampaignSpecInput = z.input<typeof campaignSpecSchema>;

/** Raised for a spec that does not validate; names each field at fault. */
export class CampaignSpecError extends DomainError {
  constructor(readonly problems: string[]) {
    super(
      `invalid campaign spec: ${problems.join('; ')}`,
      'invalid',
      problems.map((problem) => {
        const at = problem.indexOf(': ');
        return at === -1 ? { path: '', message: problem } : { path: problem.slice(0, at), message: problem.slice(at + 2) };
      }),
    );
  }
}

/** Validates a spec object; errors name the field (`steps.1.delay: …`). */
export function parseCampaignSpec(input: unknown): CampaignSpec {
  const parsed = campaignSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw new CampaignSpecError(
      parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(spec)'}: ${issue.message}`),
    );
  }
  return parsed.data;
}

/**
 * Validates a spec written as JSON or YAML text; `source` names it in the error when the text
 * does not parse. JSON is YAML, so `format` only chooses which parser's error is reported.
 */
export function parseCampaignSpecText(text: string, source: string, format: 'json' | 'yaml'): CampaignSpec {
  let raw: unknown;
  try {
    raw = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new CampaignSpecError([`${source} is not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`]);
  }
  return parseCampaignSpec(raw);
}

/** Reads a campaign spec from a `.json`, `.yaml` or `.yml` file. */
export async function readCampaignSpecFile(path: string): Promise<CampaignSpec> {
  return parseCampaignSpecText(await readFile(path, 'utf8'), path, path.endsWith('.json') ? 'json' : 'yaml');
}
