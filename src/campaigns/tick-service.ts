import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../runtime/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import { enqueueSends } from '../messages/enqueue-sends.js';
import { messageKey } from '../messages/message-key.js';
import { arrayBinding, preparedAs } from '../db/bindings.js';
import { composeMessage, needsPreviousEmail, referencedTemplateIds, type SentEmail, type TemplateVersions } from '../templates/compose.js';
import { lastSentEmails } from '../messages/message-store.js';
import type { BodyFormat } from '../messages/message-body.js';
import { currentVersions, logRenders, type RenderLogEntry } from '../templates/template-store.js';
import type { Channel } from './campaign-spec.js';
import type { CampaignService } from './campaign-service.js';
import type { ContentCalendar } from '../content/content-calendar.js';
import type { ComposeService } from '../llm/compose-service.js';
import type { Campaign, CampaignStep } from './campaign-store.js';
import { loadCampaignDefinition } from './campaign-definition.js';
import { campaignGate, takesTicks } from './campaign-gate.js';

export interface TickResult {
  outcome: 'done' | 'duplicate-slot' | 'not-active' | 'killed' | 'outside-window' | 'capped' | 'completed';
  selected: number;
  created: number;
  enqueued: number;
  heldForReview: number;
}

interface DueEnrollment {
  id: number;
  lead_id: number;
  current_step: number;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  custom: Record<string, unknown>;
  linkedin_id: string | null;
  x_user_id: string | null;
  instagram_user_id: string | null;
}

const recipientColumn: Record<Channel, keyof DueEnrollment> = {
  email: 'email',
  linkedin: 'linkedin_id',
  x: 'x_user_id',
  instagram: 'instagram_user_id',
};

interface PlannedMessage {
  idempotency_key: string;
  campaign_id: number;
  lead_id: number;
  enrollment_id: number;
  step_index: number;
  channel: Channel;
  status: 'QUEUED' | 'PENDING_REVIEW' | 'SKIPPED';
  recipient: string | null;
  subject: string | null;
  body: string | null;
  format: BodyFormat;
  in_reply_to: string | null;
  thread_references: string | null;
  template_version_id: number | null;
  variant: string | null;
  skip_reason: string | null;
  queued_at: Date | null;
}

/** What the tick needs back about each message it inserted. */
type InsertedMessage = Pick<PlannedMessage, 'idempotency_key' | 'status' | 'channel' | 'step_index' | 'enrollment_id'> & { id: number };

/**
 * Inserts a batch of planned messages, skipping those that exist (one per campaign, lead and
 * step), and returns the ones inserted. Columns travel as arrays in one prepared statement:
 * a thousand-row VALUES list would be fourteen thousand parameters to bind and parse each time.
 */
async function insertMessages(trx: Knex.Transaction, planned: readonly PlannedMessage[]): Promise<InsertedMessage[]> {
  const column = (key: keyof PlannedMessage) => arrayBinding(planned.map((message) => message[key]));
  const { rows } = await trx
    .raw<{ rows: InsertedMessage[] }>(
      `INSERT INTO messages (idempotency_key, campaign_id, lead_id, enrollment_id, step_index, channel, status,
                             recipient, subject, body, format, in_reply_to, thread_references,
                             template_version_id, variant, skip_reason, queued_at)
       SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::int[], ?::text[], ?::text[],
                            ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
                            ?::bigint[], ?::text[], ?::text[], ?::timestamptz[])
       ON CONFLICT (campaign_id, lead_id, step_index) DO NOTHING
       RETURNING id, idempotency_key, status, channel, step_index, enrollment_id`,
      [
        column('idempotency_key'),
        column('campaign_id'),
        column('lead_id'),
        column('enrollment_id'),
        column('step_index'),
        column('channel'),
        column('status'),
        column('recipient'),
        column('subject'),
        column('body'),
        column('format'),
        column('in_reply_to'),
        column('thread_references'),
        column('template_version_id'),
        column('variant'),
        column('skip_reason'),
        column('queued_at'),
      ],
    )
    .options(preparedAs('tick-insert-messages'));
  return rows;
}

/** What the render log needs about a planned message that came from a template. */
interface RenderTrace {
  templateVersionId: number;
  contextHash: string;
  outputHash: string;
}

export interface TickServiceDeps {
  db: Knex;
  queues: QueueRegistry;
  clock: Clock;
  log: Logger;
  config: Config;
  campaigns: CampaignService;
  /** LLM personalisation: diverts messages of `personalize` steps to the compose queue. */
  compose?: Pick<ComposeService, 'divert' | 'enqueue'>;
  /** The content calendar, whose publish jobs each tick makes sure exist. */
  content?: Pick<ContentCalendar, 'schedule'>;
}

/**
 * A campaign tick: checks the campaign-level gates, then takes due enrollments in batches
 * (`FOR UPDATE SKIP LOCKED`, so overlapping ticks and workers take disjoint rows), writes one
 * message per (campaign, lead, step) with `ON CONFLICT DO NOTHING`, and after each batch
 * commits adds the send jobs with `addBulk` (jobId = message key).
 */
export function tickService({ db, queues, clock, log, config, campaigns, content, compose }: TickServiceDeps) {
  /**
   * Composes one message (variant, template version, strict render, placeholder check). Held
   * for review: clean text, and text with placeholders (the reviewer sees why, and must edit it
   * before it can be approved). Without review, text with placeholders or a failed render is
   * SKIPPED with the reason.
   */
  function planMessage(
    campaign: Campaign,
    steps: readonly CampaignStep[],
    step: CampaignStep,
    due: DueEnrollment,
    now: Date,
    templates: TemplateVersions,
    previousEmail: SentEmail | undefined,
  ): { message: PlannedMessage; trace?: RenderTrace } {
    const base = {
      idempotency_key: messageKey(campaign.id, due.lead_id, step.stepIndex),
      campaign_id: campaign.id,
      lead_id: due.lead_id,
      enrollment_id: due.id,
      step_index: step.stepIndex,
      channel: step.channel,
      recipient: (due[recipientColumn[step.channel]] as string | null) ?? null,
    };
    const composed = composeMessage(campaign, step, { ...due, id: due.lead_id }, templates, { steps, previousEmail });
    const review = campaign.requireReview || step.requireReview;
    const rendered = {
      ...base,
      subject: composed.subject,
      body: composed.body,
      format: composed.format,
      in_reply_to: composed.inReplyTo,
      thread_references: composed.references,
      template_version_id: composed.templateVersionId,
      variant: composed.variant,
    };
    const trace =
      composed.templateVersionId !== null && composed.contextHash !== null && composed.outputHash !== null
        ? { templateVersionId: composed.templateVersionId, contextHash: composed.contextHash, outputHash: composed.outputHash }
        : undefined;
    if (composed.outcome === 'ok') {
      return { message: { ...rendered, status: review ? 'PENDING_REVIEW' : 'QUEUED', skip_reason: null, queued_at: review ? null : now }, trace };
    }
    if (composed.outcome === 'placeholder' && review) {
      return { message: { ...rendered, status: 'PENDING_REVIEW', skip_reason: composed.reason, queued_at: null }, trace };
    }
    return { message: { ...rendered, status: 'SKIPPED', skip_reason: composed.reason, queued_at: null }, trace };
  }

  /**
   * One batch in one transaction; returns the messages inserted (not those already there).
   * `threadedSteps` are the indexes of the steps whose emails reply to the last one sent: their
   * leads' last sent emails are read in one statement per batch.
   */
  async function runBatch(campaign: Campaign, steps: CampaignStep[], threadedSteps: ReadonlySet<number>, templates: TemplateVersions, now: Date, limit: number) {
    return db.transaction(async (trx) => {
      const due = (await trx
        .select<DueEnrollment[]>(
          'cl.id',
          'cl.lead_id',
          'cl.current_step',
          'l.email',
          'l.first_name',
          'l.last_name',
          'l.company',
          'l.custom',
          'l.linkedin_id',
          'l.x_user_id',
          'l.instagram_user_id',
        )
        .from('campaign_leads as cl')
        .join('leads as l', 'l.id', 'cl.lead_id')
        .where('cl.campaign_id', campaign.id)
        .whereIn('cl.state', ['NEW', 'ACTIVE'])
        .whereNotNull('cl.next_action_at')
        .where('cl.next_action_at', '<=', now)
        .orderBy([{ column: 'cl.next_action_at' }, { column: 'cl.id' }])
        .limit(limit)
        .forUpdate('cl')
        .skipLocked()) as DueEnrollment[];
      if (due.length === 0) return { selected: 0, inserted: [] as InsertedMessage[] };
      const previousEmails = await lastSentEmails(
        trx,
        campaign.id,
        due.filter((enrollment) => threadedSteps.has(enrollment.current_step)).map((enrollment) => ({ leadId: enrollment.lead_id, stepIndex: enrollment.current_step })),
      );

      const planned: PlannedMessage[] = [];
      const traces = new Map<string, RenderTrace>();
      const finished: number[] = [];
      for (const enrollment of due) {
        const step = steps[enrollment.current_step];
        if (step === undefined) finished.push(enrollment.id);
        else {
          const { message, trace } = planMessage(campaign, steps, step, enrollment, now, templates, previousEmails.get(enrollment.lead_id));
          planned.push(message);
          if (trace !== undefined) traces.set(message.idempotency_key, trace);
        }
      }
      const inserted = planned.length === 0 ? [] : await insertMessages(trx, planned);
      if (compose !== undefined) await compose.divert(trx, steps, inserted);
      const renders: RenderLogEntry[] = [];
      for (const message of inserted) {
        const trace = traces.get(message.idempotency_key);
        if (trace !== undefined) renders.push({ ...trace, messageId: message.id, now });
      }
      await logRenders(trx, renders);
      // Every selected enrollment leaves the due index: it waits for its message's outcome.
      await trx
        .raw(`UPDATE campaign_leads SET next_action_at = NULL, updated_at = ? WHERE id = ANY(?::bigint[])`, [
          now,
          due.map((enrollment) => enrollment.id),
        ])
        .options(preparedAs('tick-take-enrollments'));
      const renderFailures = inserted.filter((message) => message.status === 'SKIPPED').map((message) => message.enrollment_id);
      if (renderFailures.length > 0) {
        await trx('campaign_leads').whereIn('id', renderFailures).update({ state: 'FAILED', end_reason: 'message not sendable (see its skip reason)', ended_at: now });
      }
      if (finished.length > 0) {
        await trx('campaign_leads').whereIn('id', finished).update({ state: 'COMPLETED', ended_at: now });
      }
      return { selected: due.length, inserted };
    });
  }

  return {
    /**
     * Runs one tick of a campaign for a scheduled slot. A slot already recorded in
     * `tick_runs` is not run again.
     */
    async runTick(campaignId: number, slot: Date): Promise<TickResult> {
      const result: TickResult = { outcome: 'done', selected: 0, created: 0, enqueued: 0, heldForReview: 0 };
      // The definition is read once per tick: every batch plans from the same steps and posts.
      const definition = await loadCampaignDefinition(db, campaignId);
      if (definition === undefined || !takesTicks(definition.campaign)) {
        return { ...result, outcome: 'not-active' };
      }
      const { campaign, steps } = definition;
      const inserted = (await db.raw<{ rows: Array<{ id: number }> }>(
        `INSERT INTO tick_runs (campaign_id, slot, started_at) VALUES (?, ?, ?) ON CONFLICT (campaign_id, slot) DO NOTHING RETURNING id`,
        [campaignId, slot, clock.now()],
      )).rows[0];
      if (inserted === undefined) return { ...result, outcome: 'duplicate-slot' };

      const now = clock.now();
      const gate = await campaignGate({ db, config }, campaign, now);
      if (gate.kind === 'not-active' || gate.kind === 'killed' || gate.kind === 'outside-window') result.outcome = gate.kind;
      else {
        // Read once per tick: every message of this tick renders from the same template versions.
        const templates = await currentVersions(db, referencedTemplateIds(steps));
        const threadedSteps = new Set(steps.filter((step) => needsPreviousEmail(step, templates)).map((step) => step.stepIndex));
        let capLeft = gate.kind === 'open' ? gate.capLeft : 0;
        // A committed batch's jobs are added while the next batch is selected and written:
        // Redis and Postgres work overlap, one batch apart, and every add follows its commit.
        let adding: Promise<void> = Promise.resolve();
        while (capLeft > 0) {
          const batch = await runBatch(campaign, steps, threadedSteps, templates, now, Math.min(config.TICK_BATCH_SIZE, capLeft));
          result.selected += batch.selected;
          result.created += batch.inserted.length;
          const toSend = batch.inserted.filter((message) => message.status === 'QUEUED');
          result.heldForReview += batch.inserted.filter((message) => message.status === 'PENDING_REVIEW').length;
          await adding;
          adding = (async () => {
            result.enqueued += await enqueueSends(queues, config, toSend);
            if (compose !== undefined) await compose.enqueue(batch.inserted);
          })();
          capLeft -= toSend.length;
          if (batch.selected < config.TICK_BATCH_SIZE) break;
        }
        await adding;
        if (capLeft <= 0) result.outcome = 'capped';
        if (result.selected === 0 && (await campaigns.completeIfFinished(campaignId))) result.outcome = 'completed';
      }
      // Posts run on their own times (gated at publish); the tick only makes sure their jobs exist.
      if (content !== undefined) await content.schedule(definition);
      await db('tick_runs')
        .where({ id: inserted.id })
        .update({
          finished_at: clock.now(),
          selected: result.selected,
          created: result.created,
          enqueued: result.enqueued,
          held_for_review: result.heldForReview,
          outcome: result.outcome,
        });
      if (result.selected > 0) log.debug({ campaignId, ...result }, 'tick');
      return result;
    },
  };
}

export type TickService = ReturnType<typeof tickService>;
