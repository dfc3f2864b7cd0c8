import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { DomainError, type DomainErrorKind } from '../core/domain-error.js';
import type { Channel } from '../core/channels.js';
import { findCampaign, type Campaign, type CampaignStep } from '../campaigns/campaign-store.js';
import { loadCampaignDefinition } from '../campaigns/campaign-definition.js';
import type { ChannelAdapter, SendResult } from '../channels/adapter.js';
import { normaliseEmail } from '../core/identity.js';
import { composeMessage, needsPreviousEmail, referencedTemplateIds, type ComposeLead } from '../campaigns/compose-message.js';
import { lastSentEmails } from './message-store.js';
import type { BodyFormat } from '../core/message-body.js';
import { currentVersions, findTemplate, listVersions } from '../templates/template-store.js';

/** A preview or test send cannot be made (unknown campaign, step, lead, template, adapter). */
export class PreviewError extends DomainError {
  constructor(message: string, kind: Extract<DomainErrorKind, 'not-found' | 'invalid'>) {
    super(message, kind);
  }
}

/**
 * Exactly what a lead would get: the composed text with its format (a `text` body is what the
 * reader's text part shows; an `html` body is the HTML part), an email's subject and reply
 * headers, its variant and version, and whether it may be sent.
 */
export interface Preview {
  campaignId: number | null;
  step: number | null;
  leadId: number;
  leadEmail: string | null;
  channel: Channel;
  variant: string | null;
  /**
   * How the step picks its variant, when it has variants: the weighted hash (the variant shown
   * is the one this lead gets), or learnt (Thompson sampling at send time, from the replies of
   * the lead's segment: the variant shown is only one of them). Null without variants.
   */
  variantChoice: string | null;
  templateVersionId: number | null;
  subject: string | null;
  body: string | null;
  format: BodyFormat;
  /** A follow-up email: the Message-ID it replies to, and the References chain. */
  inReplyTo: string | null;
  references: string | null;
  sendable: boolean;
  /** Why it would not be sent as is (placeholders found, missing value, inactive template). */
  reason: string | null;
}

/** Finds a lead by id (all digits) or email address. */
async function findLead(db: Knex, lead: string): Promise<ComposeLead & { email: string | null }> {
  const query = db('leads').select('id', 'email', 'first_name', 'last_name', 'company', 'custom');
  const row = (await (/^\d+$/.test(lead) ? query.where({ id: Number(lead) }) : query.where({ email: normaliseEmail(lead) })).first()) as
    | ComposeLead
    | undefined;
  if (row === undefined) throw new PreviewError(`no lead ${lead}`, 'not-found');
  return row;
}

async function requireCampaign(db: Knex, id: number): Promise<Campaign> {
  const campaign = await findCampaign(db, id);
  if (campaign === undefined) throw new PreviewError(`campaign ${id} does not exist`, 'not-found');
  return campaign;
}

function previewOf(campaign: Pick<Campaign, 'id' | 'name' | 'slug'> | null, step: CampaignStep, lead: ComposeLead, composed: ReturnType<typeof composeMessage>): Preview {
  return {
    campaignId: campaign?.id ?? null,
    step: campaign === null ? null : step.stepIndex + 1,
    leadId: lead.id,
    leadEmail: lead.email,
    channel: step.channel,
    variant: composed.variant,
    variantChoice:
      step.variants === null
        ? null
        : step.variantSelection === 'thompson'
          ? `learnt: chosen when the message is planned, by Thompson sampling on the replies of the lead's segment (after ${step.minSendsPerVariant} sends per variant); variant ${composed.variant ?? '?'} is shown as an example`
          : 'weighted: a stable hash of campaign, lead and step over the weights',
    templateVersionId: composed.templateVersionId,
    subject: composed.subject,
    body: composed.body,
    format: composed.format,
    inReplyTo: composed.inReplyTo,
    references: composed.references,
    sendable: composed.outcome === 'ok',
    reason: composed.outcome === 'ok' ? null : composed.reason,
  };
}

/**
 * Renders step `step` (1-based) of a campaign for one lead, exactly as the tick would: with the
 * subject and reply headers of a follow-up, from the emails this lead has been sent so far.
 */
export async function previewCampaignStep(db: Knex, campaignId: number, lead: string, step: number): Promise<Preview> {
  const definition = await loadCampaignDefinition(db, campaignId);
  if (definition === undefined) throw new PreviewError(`campaign ${campaignId} does not exist`, 'not-found');
  const { campaign, steps } = definition;
  const found = steps[step - 1];
  if (found === undefined) throw new PreviewError(`campaign ${campaignId} has ${steps.length} step(s); there is no step ${step}`, 'not-found');
  const leadRow = await findLead(db, lead);
  // A follow-up without a subject may take the first email step's: its template is needed too.
  const templates = await currentVersions(db, referencedTemplateIds(steps));
  const previous = await lastSentEmails(db, campaignId, needsPreviousEmail(found, templates) ? [{ leadId: leadRow.id, stepIndex: found.stepIndex }] : []);
  return previewOf(campaign, found, leadRow, composeMessage(campaign, found, leadRow, templates, { steps, previousEmail: previous.get(leadRow.id) }));
}

/**
 * Renders a template's current version (or a given version) for one lead. The campaign fields
 * come from `campaignId`, else the template's own campaign, else a stand-in named "Preview".
 */
export async function previewTemplate(
  db: Knex,
  templateId: number,
  lead: string | ComposeLead,
  options: { campaignId?: number; version?: number } = {},
): Promise<Preview> {
  const template = await findTemplate(db, templateId);
  if (template === undefined) throw new PreviewError(`template ${templateId} does not exist`, 'not-found');
  const campaignId = options.campaignId ?? template.campaignId;
  const campaign = campaignId === null ? { id: 0, name: 'Preview', slug: 'preview' } : await requireCampaign(db, campaignId);
  const versions = await listVersions(db, templateId);
  const version = versions.find((candidate) => candidate.version === (options.version ?? template.currentVersion));
  if (version === undefined) throw new PreviewError(`template ${template.name} has no version ${options.version ?? template.currentVersion}`, 'not-found');
  const step: CampaignStep = {
    campaignId: campaign.id,
    stepIndex: 0,
    channel: template.channel,
    delayMs: 0,
    subject: null,
    body: null,
    // A template brings its own format; the step's applies to inline text only.
    format: 'text',
    thread: false,
    templateId,
    variants: null,
    stopOnReply: true,
    requireReview: false,
    personalizePrompt: null,
    variantSelection: 'weighted',
    minSendsPerVariant: 1,
  };
  const leadRow = typeof lead === 'string' ? await findLead(db, lead) : lead;
  const composed = composeMessage(campaign, step, leadRow, new Map([[templateId, { template, version }]]));
  return { ...previewOf(campaignId === null ? null : campaign, step, leadRow, composed), step: null };
}

/**
 * Sends one rendered email template to an operator's address through the LIVE email adapter
 * (never to the lead). The subject is prefixed with "[TEST]"; nothing is recorded as a message.
 * @throws PreviewError when the template would not be sendable, or no email adapter is configured.
 */
export async function sendTemplateTest(
  deps: { db: Knex; adapter: ChannelAdapter | undefined; timeoutMs: number; publicUrl: string },
  request: { templateId: number; to: string; lead?: string; campaignId?: number; fromEmail?: string; fromName?: string },
): Promise<{ preview: Preview; result: SendResult }> {
  const template = await findTemplate(deps.db, request.templateId);
  // Without a lead, a sample one addressed to the operator, with every declared custom field filled.
  const sample: ComposeLead = {
    id: 0,
    email: request.to,
    first_name: 'Test',
    last_name: 'Recipient',
    company: 'Example Ltd',
    custom: Object.fromEntries((template?.customFields ?? []).map((field) => [field, `sample ${field}`])),
  };
  const preview = await previewTemplate(deps.db, request.templateId, request.lead ?? sample, { campaignId: request.campaignId });
  if (preview.channel !== 'email') throw new PreviewError(`test-send is for email templates; this one is ${preview.channel}`, 'invalid');
  if (!preview.sendable || preview.body === null) throw new PreviewError(`not sendable: ${preview.reason ?? 'no text'}`, 'invalid');
  if (deps.adapter === undefined) throw new PreviewError('no LIVE email adapter is configured (set SMTP_URL)', 'invalid');
  const campaign = preview.campaignId === null ? undefined : await findCampaign(deps.db, preview.campaignId);
  const fromEmail = request.fromEmail ?? campaign?.fromEmail ?? undefined;
  if (fromEmail === undefined) throw new PreviewError('give --from (the template has no campaign with a sender)', 'invalid');
  const testId = randomUUID();
  const result = await deps.adapter.send(
    {
      id: 0,
      idempotencyKey: `test-${testId}`,
      campaignId: preview.campaignId ?? 0,
      channel: 'email',
      recipient: request.to,
      subject: `[TEST] ${preview.subject ?? ''}`.trim(),
      body: preview.body,
      format: preview.format,
      fromName: request.fromName ?? campaign?.fromName ?? null,
      fromEmail,
      replyTo: campaign?.replyTo ?? null,
      // A test email is no campaign message: its unsubscribe targets are well-formed but tied to no lead.
      email: {
        messageId: `<test-${testId}@${fromEmail.split('@')[1] ?? 'drumbeat.invalid'}>`,
        unsubscribeUrl: new URL(`/u/test-${testId}`, deps.publicUrl).toString(),
        unsubscribeMailto: `mailto:${fromEmail}?subject=unsubscribe`,
      },
    },
    { signal: AbortSignal.timeout(deps.timeoutMs) },
  );
  return { preview, result };
}
