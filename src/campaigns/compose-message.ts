import { createHash } from 'node:crypto';
import type { Campaign, CampaignStep, StepVariant } from './campaign-store.js';
import { renderTemplate, TemplateRenderError, TemplateSyntaxError, type RenderContext } from '../templates/render.js';
import { valueEscaping, type BodyFormat } from '../core/message-body.js';
import { describePlaceholders, findPlaceholders } from '../templates/placeholders.js';
import type { Template, TemplateVersion } from '../templates/template-store.js';

/** The lead fields composition reads (a row of `leads`). */
export interface ComposeLead {
  id: number;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  custom: Record<string, unknown>;
}

/** The current version of each template a campaign's steps reference, by template id. */
export type TemplateVersions = ReadonlyMap<number, { template: Template; version: TemplateVersion }>;

/** The template ids a campaign's steps reference (directly or through variants). */
export function referencedTemplateIds(steps: readonly CampaignStep[]): number[] {
  const ids = new Set<number>();
  for (const step of steps) {
    if (step.templateId !== null) ids.add(step.templateId);
    for (const variant of step.variants ?? []) if (variant.templateId !== null) ids.add(variant.templateId);
  }
  return [...ids];
}

/**
 * The variant a lead gets at a step: a hash of (campaign, lead, step) placed on the cumulative
 * weights, so the same lead always gets the same variant, on every worker and in previews.
 */
export function chooseVariant<Variant extends Pick<StepVariant, 'name' | 'weight'>>(campaignId: number, leadId: number, stepIndex: number, variants: readonly Variant[]): Variant {
  const total = variants.reduce((sum, variant) => sum + variant.weight, 0);
  const digest = createHash('sha256').update(`${campaignId}:${leadId}:${stepIndex}`).digest();
  const point = (digest.readUInt32BE(0) / 2 ** 32) * total;
  let cumulative = 0;
  for (const variant of variants) {
    cumulative += variant.weight;
    if (point < cumulative) return variant;
  }
  const last = variants[variants.length - 1];
  if (last === undefined) throw new Error('a step with variants has none');
  return last;
}

/** A composed message: the text to send, or why none may be sent. */
export type Composed = {
  variant: string | null;
  templateVersionId: number | null;
  subject: string | null;
  body: string | null;
  /** What `body` is (text or html), from the inline step or variant, or the template version. */
  format: BodyFormat;
  /** Email follow-ups: the Message-ID this one replies to, and the References chain. */
  inReplyTo: string | null;
  references: string | null;
  /** sha256 of the render context and of the output, for the render log (template renders only). */
  contextHash: string | null;
  outputHash: string | null;
} & (
  | { outcome: 'ok' }
  /** Rendered, but leftovers were found: the text is kept for a reviewer, it must not be sent as is. */
  | { outcome: 'placeholder'; reason: string }
  /** Could not render at all (missing value, inactive template, syntax). */
  | { outcome: 'failed'; reason: string }
);

/** The last email this lead was sent in this sequence before the step: what a follow-up replies to. */
export interface SentEmail {
  subject: string | null;
  /** Its Message-ID (`messages.provider_message_id`), when it had one. */
  messageId: string | null;
  /** Its own References header, when it was itself a reply. */
  references: string | null;
}

/**
 * Where a step stands in its sequence, for email threading: the campaign's steps and the last
 * email the lead was sent before this step (undefined when none was: skipped, rejected, DEAD…).
 * Without it (a template preview) a message is composed on its own, with no thread.
 */
export interface SequencePosition {
  steps: readonly CampaignStep[];
  previousEmail: SentEmail | undefined;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function renderContextFor(campaign: Pick<Campaign, 'name' | 'slug'>, lead: ComposeLead): RenderContext {
  return {
    lead: { email: lead.email, firstName: lead.first_name, lastName: lead.last_name, company: lead.company, custom: lead.custom },
    campaign: { name: campaign.name, slug: campaign.slug },
  };
}

/** The text a lead gets at a step before rendering: its variant, and inline text or the template's current version. */
type StepSource =
  | { ok: true; variant: StepVariant | null; templateVersionId: number | null; subject: string | null; body: string; format: BodyFormat }
  | { ok: false; variant: StepVariant | null; reason: string };

function sourceOf(campaign: Pick<Campaign, 'id'>, step: CampaignStep, leadId: number, templates: TemplateVersions, chosen?: StepVariant): StepSource {
  const variant = step.variants === null ? null : (chosen ?? chooseVariant(campaign.id, leadId, step.stepIndex, step.variants));
  const inline = variant ?? { templateId: step.templateId, subject: step.subject, body: step.body, format: step.format };
  if (inline.templateId !== null) {
    const found = templates.get(inline.templateId);
    if (found === undefined) return { ok: false, variant, reason: `template ${inline.templateId} does not exist` };
    if (!found.template.active) return { ok: false, variant, reason: `template "${found.template.name}" is inactive` };
    const { id, subject, body, format } = found.version;
    return { ok: true, variant, templateVersionId: id, subject, body, format };
  }
  if (inline.body === null) return { ok: false, variant, reason: `step ${step.stepIndex + 1} has no content` };
  return { ok: true, variant, templateVersionId: null, subject: inline.subject, body: inline.body, format: inline.format };
}

/**
 * Whether the tick must look up the last email sent before this step: an email step that
 * threads, or one whose text (inline, template or any variant) has no subject of its own.
 */
export function needsPreviousEmail(step: CampaignStep, templates: TemplateVersions): boolean {
  if (step.channel !== 'email') return false;
  if (step.thread) return true;
  const subjectless = (source: { templateId: number | null; subject: string | null }) =>
    source.templateId === null ? source.subject === null : (templates.get(source.templateId)?.version.subject ?? null) === null;
  return step.variants === null ? subjectless(step) : step.variants.some(subjectless);
}

/** "Re: " once before a subject, however many the subject already had. */
export function replySubject(subject: string): string {
  return `Re: ${subject.replace(/^(?:\s*re(?:\[\d+\])?\s*:)+\s*/i, '')}`;
}

/** The References of a reply, as mail clients build it: the parent's References, then the parent's Message-ID. */
function referencesAfter(parent: SentEmail): string | null {
  const chain = [parent.references, parent.messageId].filter((part): part is string => part !== null && part !== '');
  return chain.length === 0 ? null : chain.join(' ');
}

type Thread = { ok: true; subject: string | null; inReplyTo: string | null; references: string | null } | { ok: false; reason: string };

/**
 * The subject and reply headers of an email. With its own subject it starts a new thread,
 * unless the step says `thread: true`. Without one it is a follow-up: `Re: <the last email's
 * subject>`, replying to that email; when no earlier email was sent it starts the thread with
 * the subject of the sequence's first email step, rendered for this lead.
 */
function threadOf(
  campaign: Pick<Campaign, 'id' | 'name' | 'slug'>,
  position: SequencePosition,
  step: CampaignStep,
  lead: ComposeLead,
  templates: TemplateVersions,
  ownSubject: string | null,
): Thread {
  const previous = position.previousEmail;
  if (ownSubject !== null && (!step.thread || previous === undefined)) return { ok: true, subject: ownSubject, inReplyTo: null, references: null };
  const reply = { inReplyTo: previous?.messageId ?? null, references: previous === undefined ? null : referencesAfter(previous) };
  if (ownSubject !== null) return { ok: true, subject: ownSubject, ...reply };
  if (previous?.subject != null) return { ok: true, subject: replySubject(previous.subject), ...reply };

  const first = position.steps.find((candidate) => candidate.channel === 'email');
  if (first === undefined || first.stepIndex >= step.stepIndex) {
    return { ok: false, reason: `step ${step.stepIndex + 1} has no subject and no earlier email step to take one from` };
  }
  const source = sourceOf(campaign, first, lead.id, templates);
  if (!source.ok) return { ok: false, reason: `the subject comes from step ${first.stepIndex + 1}: ${source.reason}` };
  if (source.subject === null) return { ok: false, reason: `step ${step.stepIndex + 1} has no subject, nor has the first email step (${first.stepIndex + 1})` };
  const subject = renderTemplate(source.subject, renderContextFor(campaign, lead), 'none');
  return { ok: true, subject: previous === undefined ? subject : replySubject(subject), ...reply };
}

/**
 * Composes the message a lead gets at a step exactly as the tick does: picks the variant,
 * takes inline text or the template's current version (refusing an inactive template), renders
 * strictly in the body's format (values HTML-escaped, once, only for an html body; subjects
 * never), gives an email its subject and thread (see {@link threadOf}) and checks the output
 * for placeholders. Previews use the same function, so they show exactly what would be sent.
 * @param position - the sequence and the lead's last sent email; omit it for a template on its own.
 * @param chosenVariant - the variant picked elsewhere (Thompson sampling); without it, the weighted hash picks.
 */
export function composeMessage(
  campaign: Pick<Campaign, 'id' | 'name' | 'slug'>,
  step: CampaignStep,
  lead: ComposeLead,
  templates: TemplateVersions,
  position?: SequencePosition,
  chosenVariant?: StepVariant,
): Composed {
  const source = sourceOf(campaign, step, lead.id, templates, chosenVariant);
  const context = renderContextFor(campaign, lead);
  // Only template renders are logged: inline text is not hashed.
  const contextHash = (source.variant ?? step).templateId === null ? null : sha256(JSON.stringify(context));
  const base = {
    variant: source.variant?.name ?? null,
    templateVersionId: null,
    subject: null,
    body: null,
    format: 'text' as BodyFormat,
    inReplyTo: null,
    references: null,
    contextHash,
    outputHash: null,
  };
  if (!source.ok) return { ...base, outcome: 'failed', reason: source.reason };
  const { templateVersionId, format } = source;

  let body: string;
  let thread: Thread;
  try {
    const ownSubject = source.subject === null ? null : renderTemplate(source.subject, context, 'none');
    body = renderTemplate(source.body, context, valueEscaping(format));
    thread =
      step.channel === 'email' && position !== undefined
        ? threadOf(campaign, position, step, lead, templates, ownSubject)
        : { ok: true, subject: ownSubject, inReplyTo: null, references: null };
  } catch (error) {
    if (error instanceof TemplateRenderError || error instanceof TemplateSyntaxError) {
      return { ...base, templateVersionId, format, outcome: 'failed', reason: `render failed: ${error.message}` };
    }
    throw error;
  }
  if (!thread.ok) return { ...base, templateVersionId, format, outcome: 'failed', reason: thread.reason };
  const { subject, inReplyTo, references } = thread;
  const outputHash = templateVersionId === null ? null : sha256(`${subject ?? ''}\u0000${body}`);
  const rendered = { ...base, templateVersionId, subject, body, format, inReplyTo, references, outputHash };
  const hits = findPlaceholders({ subject, body });
  if (hits.length > 0) return { ...rendered, outcome: 'placeholder', reason: describePlaceholders(hits) };
  return { ...rendered, outcome: 'ok' };
}
