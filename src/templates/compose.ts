import { createHash } from 'node:crypto';
import type { Campaign, CampaignStep, StepVariant } from '../campaigns/campaign-store.js';
import { bodyFormat, renderTemplate, TemplateRenderError, TemplateSyntaxError, type RenderContext } from './render.js';
import { describePlaceholders, findPlaceholders } from './placeholders.js';
import type { Template, TemplateVersion } from './template-store.js';

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
export function chooseVariant(campaignId: number, leadId: number, stepIndex: number, variants: readonly StepVariant[]): StepVariant {
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

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function renderContextFor(campaign: Pick<Campaign, 'name' | 'slug'>, lead: ComposeLead): RenderContext {
  return {
    lead: { email: lead.email, firstName: lead.first_name, lastName: lead.last_name, company: lead.company, custom: lead.custom },
    campaign: { name: campaign.name, slug: campaign.slug },
  };
}

/**
 * Composes the message a lead gets at a step exactly as the tick does: picks the variant,
 * takes inline text or the template's current version (refusing an inactive template), renders
 * strictly (HTML-escaped for email bodies) and checks the output for placeholders. Previews use
 * the same function, so they show exactly what would be sent.
 */
export function composeMessage(
  campaign: Pick<Campaign, 'id' | 'name' | 'slug'>,
  step: CampaignStep,
  lead: ComposeLead,
  templates: TemplateVersions,
): Composed {
  const variant = step.variants === null ? null : chooseVariant(campaign.id, lead.id, step.stepIndex, step.variants);
  const source = variant ?? { templateId: step.templateId, subject: step.subject, body: step.body };
  const context = renderContextFor(campaign, lead);
  // Only template renders are logged: inline text is not hashed.
  const contextHash = source.templateId === null ? null : sha256(JSON.stringify(context));
  const base = { variant: variant?.name ?? null, templateVersionId: null, subject: null, body: null, contextHash, outputHash: null };

  let subjectText: string | null;
  let bodyText: string;
  let templateVersionId: number | null = null;
  if (source.templateId !== null) {
    const found = templates.get(source.templateId);
    if (found === undefined) return { ...base, outcome: 'failed', reason: `template ${source.templateId} does not exist` };
    if (!found.template.active) return { ...base, outcome: 'failed', reason: `template "${found.template.name}" is inactive` };
    templateVersionId = found.version.id;
    subjectText = found.version.subject;
    bodyText = found.version.body;
  } else if (source.body !== null) {
    subjectText = source.subject;
    bodyText = source.body;
  } else {
    return { ...base, outcome: 'failed', reason: `step ${step.stepIndex + 1} has no content` };
  }

  let subject: string | null;
  let body: string;
  try {
    subject = subjectText === null ? null : renderTemplate(subjectText, context, 'text');
    body = renderTemplate(bodyText, context, bodyFormat(step.channel));
  } catch (error) {
    if (error instanceof TemplateRenderError || error instanceof TemplateSyntaxError) {
      return { ...base, templateVersionId, outcome: 'failed', reason: `render failed: ${error.message}` };
    }
    throw error;
  }
  const outputHash = templateVersionId === null ? null : sha256(`${subject ?? ''}\u0000${body}`);
  const rendered = { ...base, templateVersionId, subject, body, outputHash };
  const hits = findPlaceholders({ subject, body });
  if (hits.length > 0) return { ...rendered, outcome: 'placeholder', reason: describePlaceholders(hits) };
  return { ...rendered, outcome: 'ok' };
}
