import type { Knex } from 'knex';
import type { GuardSettings, SendWindow, VariantSelection } from './campaign-spec.js';
import type { Channel } from '../core/channels.js';
import type { BodyFormat } from '../core/message-body.js';
import { PUBLISHABLE_STATUSES } from './post-store.js';

export const CAMPAIGNS = 'campaigns';
export const CAMPAIGN_STEPS = 'campaign_steps';

export type CampaignStatus = 'DRAFT' | 'ACTIVE' | 'PAUSED' | 'COMPLETED' | 'ARCHIVED';
export type StrategyStatus = 'DRAFT' | 'APPROVED' | 'REJECTED';
export type CampaignMode = 'LIVE' | 'PROOF';
/** What a personalised message does when the LLM cannot write its line: send the plain text, or wait for review. */
export type LlmFallback = 'TEMPLATE' | 'REVIEW';

/** Who paused a campaign: drumbeat itself (a fault that is not a lead's) or an operator. */
export const PAUSED_BY_DRUMBEAT = 'drumbeat';

export interface Campaign {
  id: number;
  name: string;
  slug: string;
  status: CampaignStatus;
  strategyStatus: StrategyStatus;
  strategyNote: string | null;
  mode: CampaignMode;
  timezone: string;
  sendWindow: SendWindow | null;
  dailyCap: number | null;
  tickEveryMs: number;
  requireReview: boolean;
  fromName: string | null;
  fromEmail: string | null;
  replyTo: string | null;
  onReject: 'SKIP_STEP' | 'END_LEAD';
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  /** Why it is PAUSED, when drumbeat paused it (the provider's answer); null otherwise. */
  pauseReason: string | null;
  pausedAt: Date | null;
  /** `drumbeat`, or the operator's interface (`cli`, `api`). */
  pausedBy: string | null;
  /** What a personalised step's message does when the LLM cannot write its opening line. */
  llmFallback: LlmFallback;
  /** Custom lead fields the campaign's inline text may use as `it.lead.custom.<name>`. */
  customFields: string[];
  /** The segments that label its leads at enrollment, in order (the first that matches). */
  segments: string[];
  /** The deliverability guard's thresholds (a LIVE campaign's); null when the spec turned it off. */
  guard: GuardSettings | null;
}

/** A campaign as it is created: its settings, and the spec as submitted (the audit copy: only `campaign show --json` reads it). */
export type NewCampaign = Omit<
  Campaign,
  'id' | 'status' | 'strategyStatus' | 'strategyNote' | 'createdAt' | 'startedAt' | 'completedAt' | 'pauseReason' | 'pausedAt' | 'pausedBy'
> & { submittedSpec: unknown };

/** What a sequence edit changes besides the steps (the campaign's other settings stay as they are). */
export type SequenceSettings = Pick<Campaign, 'requireReview' | 'onReject' | 'llmFallback' | 'customFields' | 'segments' | 'guard'> & { submittedSpec: unknown };

/** One stored A/B variant: a weight and either a template (by id) or inline text with its format. */
export interface StepVariant {
  name: string;
  weight: number;
  templateId: number | null;
  subject: string | null;
  body: string | null;
  /** The format of the inline body; a template brings its own. */
  format: BodyFormat;
  /** What it argues (`pain-point`), for narrative memory; null when the spec gave none. */
  angle: string | null;
}

/** A variant as stored in `campaign_steps.variants`; those saved before formats or angles existed have none. */
type StoredVariant = Omit<StepVariant, 'format' | 'angle'> & { format?: BodyFormat; angle?: string | null };

export interface CampaignStep {
  campaignId: number;
  stepIndex: number;
  channel: Channel;
  delayMs: number;
  /** Inline text; null when the step uses a template or variants. */
  subject: string | null;
  body: string | null;
  /** The format of the inline body; a template brings its own. */
  format: BodyFormat;
  /** An email with its own subject that still replies in the thread of the last email sent. */
  thread: boolean;
  templateId: number | null;
  variants: StepVariant[] | null;
  stopOnReply: boolean;
  requireReview: boolean;
  /** The LLM prompt of a personalised step (its messages wait for an opening line); null otherwise. */
  personalizePrompt: string | null;
  /** How a lead's variant is picked: the stable weighted hash, or Thompson sampling on replies. */
  variantSelection: VariantSelection;
  /** Under Thompson sampling: sends per variant and segment before replies decide. */
  minSendsPerVariant: number;
}

/** A step as it is written, for the campaign it is written to. */
export type NewStep = Omit<CampaignStep, 'campaignId'>;

interface CampaignRow {
  id: number;
  name: string;
  slug: string;
  status: CampaignStatus;
  strategy_status: StrategyStatus;
  strategy_note: string | null;
  mode: CampaignMode;
  timezone: string;
  send_window: SendWindow | null;
  daily_cap: number | null;
  tick_every_ms: number;
  require_review: boolean;
  from_name: string | null;
  from_email: string | null;
  reply_to: string | null;
  on_reject: 'SKIP_STEP' | 'END_LEAD';
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  pause_reason: string | null;
  paused_at: Date | null;
  paused_by: string | null;
  llm_fallback: LlmFallback;
  custom_fields: string[];
  segments: string[];
  guard: GuardSettings | null;
}

interface StepRow {
  campaign_id: number;
  step_index: number;
  channel: Channel;
  delay_ms: number;
  subject: string | null;
  body: string | null;
  format: BodyFormat;
  thread: boolean;
  template_id: number | null;
  variants: StoredVariant[] | null;
  stop_on_reply: boolean;
  require_review: boolean;
  personalize_prompt: string | null;
  variant_selection: VariantSelection;
  min_sends_per_variant: number;
}

export function rowToCampaign(row: CampaignRow): Campaign {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    status: row.status,
    strategyStatus: row.strategy_status,
    strategyNote: row.strategy_note,
    mode: row.mode,
    timezone: row.timezone,
    sendWindow: row.send_window,
    dailyCap: row.daily_cap,
    tickEveryMs: row.tick_every_ms,
    requireReview: row.require_review,
    fromName: row.from_name,
    fromEmail: row.from_email,
    replyTo: row.reply_to,
    onReject: row.on_reject,
    createdAt: row.created_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    pauseReason: row.pause_reason,
    pausedAt: row.paused_at,
    pausedBy: row.paused_by,
    llmFallback: row.llm_fallback,
    customFields: row.custom_fields,
    segments: row.segments,
    guard: row.guard,
  };
}

function rowToStep(row: StepRow): CampaignStep {
  return {
    campaignId: row.campaign_id,
    stepIndex: row.step_index,
    channel: row.channel,
    delayMs: row.delay_ms,
    subject: row.subject,
    body: row.body,
    format: row.format,
    thread: row.thread,
    templateId: row.template_id,
    variants: row.variants?.map((variant) => ({ ...variant, format: variant.format ?? 'text', angle: variant.angle ?? null })) ?? null,
    stopOnReply: row.stop_on_reply,
    requireReview: row.require_review,
    personalizePrompt: row.personalize_prompt,
    variantSelection: row.variant_selection,
    minSendsPerVariant: row.min_sends_per_variant,
  };
}

function stepToRow(campaignId: number, step: NewStep): StepRow {
  return {
    campaign_id: campaignId,
    step_index: step.stepIndex,
    channel: step.channel,
    delay_ms: step.delayMs,
    subject: step.subject,
    body: step.body,
    format: step.format,
    thread: step.thread,
    template_id: step.templateId,
    variants: step.variants,
    stop_on_reply: step.stopOnReply,
    require_review: step.requireReview,
    personalize_prompt: step.personalizePrompt,
    variant_selection: step.variantSelection,
    min_sends_per_variant: step.minSendsPerVariant,
  };
}

/** Inserts a campaign row (its steps and posts are written apart); returns the new id. */
export async function insertCampaign(db: Knex, campaign: NewCampaign): Promise<number> {
  const [row] = (await db(CAMPAIGNS)
    .insert({
      name: campaign.name,
      slug: campaign.slug,
      mode: campaign.mode,
      timezone: campaign.timezone,
      send_window: campaign.sendWindow === null ? null : JSON.stringify(campaign.sendWindow),
      daily_cap: campaign.dailyCap,
      tick_every_ms: campaign.tickEveryMs,
      require_review: campaign.requireReview,
      on_reject: campaign.onReject,
      from_name: campaign.fromName,
      from_email: campaign.fromEmail,
      reply_to: campaign.replyTo,
      llm_fallback: campaign.llmFallback,
      custom_fields: JSON.stringify(campaign.customFields),
      segments: JSON.stringify(campaign.segments),
      guard: campaign.guard === null ? null : JSON.stringify(campaign.guard),
      spec: JSON.stringify(campaign.submittedSpec),
    })
    .returning('id')) as Array<{ id: number }>;
  if (row === undefined) throw new Error('campaign insert returned no id');
  return row.id;
}

/** Replaces a campaign's steps with these (none of its steps is kept). Run it in a transaction. */
export async function replaceSteps(db: Knex, campaignId: number, steps: readonly NewStep[]): Promise<void> {
  await db(CAMPAIGN_STEPS).where({ campaign_id: campaignId }).delete();
  if (steps.length === 0) return;
  await db(CAMPAIGN_STEPS).insert(
    steps.map((step) => {
      const row = stepToRow(campaignId, step);
      return { ...row, variants: row.variants === null ? null : JSON.stringify(row.variants) };
    }),
  );
}

/**
 * Compare-and-set for a sequence edit: only a campaign that is not running (DRAFT or PAUSED)
 * takes the new settings, and its strategy returns to DRAFT (an edited sequence must be approved
 * again). Returns the updated campaign (its status unchanged), or undefined when it is running
 * or finished.
 */
export async function updateForSequenceEdit(db: Knex, id: number, settings: SequenceSettings, editedBy: string, now: Date): Promise<Campaign | undefined> {
  const [row] = (await db(CAMPAIGNS)
    .where({ id })
    .whereIn('status', ['DRAFT', 'PAUSED'])
    .update({
      strategy_status: 'DRAFT',
      strategy_note: `sequence edited by ${editedBy}; approve again`,
      strategy_decided_by: null,
      strategy_decided_at: null,
      require_review: settings.requireReview,
      on_reject: settings.onReject,
      llm_fallback: settings.llmFallback,
      custom_fields: JSON.stringify(settings.customFields),
      segments: JSON.stringify(settings.segments),
      guard: settings.guard === null ? null : JSON.stringify(settings.guard),
      spec: JSON.stringify(settings.submittedSpec),
      updated_at: now,
    })
    .returning('*')) as CampaignRow[];
  return row === undefined ? undefined : rowToCampaign(row);
}

export async function findCampaign(db: Knex, id: number): Promise<Campaign | undefined> {
  const row = (await db(CAMPAIGNS).where({ id }).first()) as CampaignRow | undefined;
  return row === undefined ? undefined : rowToCampaign(row);
}

/** The campaign with this slug (unique), as public forms name it. */
export async function findCampaignBySlug(db: Knex, slug: string): Promise<Campaign | undefined> {
  const row = (await db(CAMPAIGNS).where({ slug }).first()) as CampaignRow | undefined;
  return row === undefined ? undefined : rowToCampaign(row);
}

/** The campaigns that already use this name or this slug (both are unique). */
export async function findCampaignsNamed(db: Knex, name: string, slug: string): Promise<Campaign[]> {
  const rows = (await db(CAMPAIGNS).where({ name }).orWhere({ slug }).orderBy('id')) as CampaignRow[];
  return rows.map(rowToCampaign);
}

export async function listCampaigns(db: Knex): Promise<Campaign[]> {
  const rows = (await db(CAMPAIGNS).orderBy('id')) as CampaignRow[];
  return rows.map(rowToCampaign);
}

export async function listActiveCampaigns(db: Knex): Promise<Campaign[]> {
  const rows = (await db(CAMPAIGNS).where({ status: 'ACTIVE' }).orderBy('id')) as CampaignRow[];
  return rows.map(rowToCampaign);
}

/**
 * The spec a campaign was last created or edited from, as it was submitted: the audit copy
 * (`campaign show --json`). Nothing runs from it; the definition is the rows.
 */
export async function findSubmittedSpec(db: Knex, id: number): Promise<unknown> {
  const row = (await db(CAMPAIGNS).where({ id }).first('spec')) as { spec: unknown } | undefined;
  return row?.spec;
}

export async function findSteps(db: Knex, campaignId: number): Promise<CampaignStep[]> {
  const rows = (await db(CAMPAIGN_STEPS).where({ campaign_id: campaignId }).orderBy('step_index')) as StepRow[];
  return rows.map(rowToStep);
}

/**
 * Compare-and-set of a campaign's status: changes it only from one of `from`; returns the
 * updated campaign, or undefined when it was in another status.
 */
export async function transitionCampaign(
  db: Knex,
  id: number,
  from: readonly CampaignStatus[],
  to: CampaignStatus,
  extra: Record<string, unknown> = {},
): Promise<Campaign | undefined> {
  const [row] = (await db(CAMPAIGNS)
    .where({ id })
    .whereIn('status', from)
    .update({ status: to, updated_at: db.fn.now(), ...extra })
    .returning('*')) as CampaignRow[];
  return row === undefined ? undefined : rowToCampaign(row);
}

/**
 * Compare-and-set ACTIVE → PAUSED, by drumbeat, of one campaign, with the reason. Returns the
 * paused campaign, or undefined when it was not ACTIVE.
 */
export function pauseCampaignByDrumbeat(db: Knex, id: number, reason: string, now: Date): Promise<Campaign | undefined> {
  return transitionCampaign(db, id, ['ACTIVE'], 'PAUSED', { pause_reason: reason, paused_at: now, paused_by: PAUSED_BY_DRUMBEAT });
}

/**
 * Compare-and-set ACTIVE → PAUSED, by drumbeat, of every LIVE campaign that sends through a
 * channel's account: the campaign whose delivery failed, and every other one with a step on
 * that channel or a post waiting for that platform. Returns the campaigns it paused.
 */
export async function pauseCampaignsOnChannel(
  db: Knex,
  fault: { channel: Channel; campaignId: number; reason: string; now: Date },
): Promise<Campaign[]> {
  const { rows } = await db.raw<{ rows: CampaignRow[] }>(
    `UPDATE campaigns c SET status = 'PAUSED', pause_reason = ?, paused_at = ?, paused_by = ?, updated_at = ?
      WHERE c.status = 'ACTIVE' AND c.mode = 'LIVE'
        AND (c.id = ?
          OR EXISTS (SELECT 1 FROM campaign_steps s WHERE s.campaign_id = c.id AND s.channel = ?)
          OR EXISTS (SELECT 1 FROM campaign_posts p WHERE p.campaign_id = c.id AND p.platform = ? AND p.status = ANY(?::text[])))
      RETURNING c.*`,
    [fault.reason, fault.now, PAUSED_BY_DRUMBEAT, fault.now, fault.campaignId, fault.channel, fault.channel, ['PENDING_REVIEW', ...PUBLISHABLE_STATUSES]],
  );
  return rows.map(rowToCampaign);
}

/** The PAUSED campaigns drumbeat paused itself, oldest pause first. */
export async function campaignsPausedByDrumbeat(db: Knex): Promise<Campaign[]> {
  const rows = (await db(CAMPAIGNS).where({ status: 'PAUSED', paused_by: PAUSED_BY_DRUMBEAT }).orderBy(['paused_at', 'id'])) as CampaignRow[];
  return rows.map(rowToCampaign);
}

/** Records a strategy decision; allowed only while the campaign is not running. */
export async function decideStrategy(
  db: Knex,
  id: number,
  decision: 'APPROVED' | 'REJECTED',
  note: string | null,
  decidedBy: string,
  decidedAt: Date,
): Promise<Campaign | undefined> {
  const [row] = (await db(CAMPAIGNS)
    .where({ id })
    .whereIn('status', ['DRAFT', 'PAUSED'])
    .update({
      strategy_status: decision,
      strategy_note: note,
      strategy_decided_by: decidedBy,
      strategy_decided_at: decidedAt,
      updated_at: db.fn.now(),
    })
    .returning('*')) as CampaignRow[];
  return row === undefined ? undefined : rowToCampaign(row);
}
