import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import { enqueueSends } from '../messages/enqueue-sends.js';
import { messageKey } from '../messages/message-key.js';
import { composeMessage, needsPreviousEmail, referencedTemplateIds, type SentEmail, type TemplateVersions } from '../campaigns/compose-message.js';
import { lastSentEmails } from '../messages/message-store.js';
import { planMessages, type InsertedMessage, type PlannedMessage } from '../messages/message-lifecycle.js';
import { CAMPAIGN_LEADS, endEnrollments, LIVE_ENROLLMENT_STATES, takeForTick } from '../enrollments/enrollment-lifecycle.js';
import { currentVersions, logRenders, type RenderLogEntry } from '../templates/template-store.js';
import type { Channel } from '../core/channels.js';
import type { CampaignService } from './campaign-service.js';
import type { ContentCalendar } from '../content/content-calendar.js';
import type { ComposeService } from '../llm/compose-service.js';
import type { Campaign, CampaignStep } from '../campaigns/campaign-store.js';
import { loadCampaignDefinition, type CampaignDefinition } from '../campaigns/campaign-definition.js';
import { campaignGate, takesTicks } from './campaign-gate.js';
import { systemRandom, type Random } from '../core/random.js';
import { readVariantTallies, tallyKey, thompsonChoice, type VariantChoice, type VariantTally } from '../campaigns/variant-selection.js';

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
  /** The segment the lead was labelled with at enrollment (null: none). */
  segment: string | null;
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

/** What the render log needs about a planned message that came from a template. */
interface RenderTrace {
  templateVersionId: number;
  contextHash: string;
  outputHash: string;
}

/** What every batch of one tick plans from: read once per tick. */
interface TickPlan {
  campaign: Campaign;
  steps: CampaignStep[];
  templates: TemplateVersions;
  now: Date;
  /** Indexes of the steps whose emails reply to the last one sent to the lead. */
  threadedSteps: ReadonlySet<number>;
  /** Indexes of the steps whose messages wait for an LLM opening line (planned PLANNED). */
  personalisedSteps: ReadonlySet<number>;
  /** Indexes of the steps whose variant is chosen by Thompson sampling. */
  learningSteps: ReadonlySet<number>;
}

export interface TickServiceDeps {
  db: Knex;
  queues: QueueRegistry;
  clock: Clock;
  log: Logger;
  config: Config;
  campaigns: CampaignService;
  /** LLM personalisation: says which steps are personalised, and adds the compose jobs of their messages. */
  compose?: Pick<ComposeService, 'enqueue'>;
  /** The content calendar, whose publish jobs each tick makes sure exist. */
  content?: Pick<ContentCalendar, 'schedule'>;
  /** What Thompson sampling draws from; seeded in tests. @defaultValue the process's randomness */
  random?: Random;
}

/**
 * A campaign tick: checks the campaign-level gates, then takes due enrollments in batches
 * (`FOR UPDATE SKIP LOCKED`, so overlapping ticks and workers take disjoint rows), writes one
 * message per (campaign, lead, step) with `ON CONFLICT DO NOTHING`, and after each batch
 * commits adds the send jobs with `addBulk` (jobId = message key).
 */
export function tickService({ db, queues, clock, log, config, campaigns, content, compose, random = systemRandom }: TickServiceDeps) {
  /**
   * Composes one message (variant, template version, strict render, placeholder check). Held
   * for review: clean text, and text with placeholders (the reviewer sees why, and must edit it
   * before it can be approved). Without review, text with placeholders or a failed render is
   * SKIPPED with the reason. A sendable message of a personalised step is planned PLANNED: it
   * waits for its compose job, which releases it (QUEUED, or PENDING_REVIEW).
   */
  function planMessage(
    plan: TickPlan,
    step: CampaignStep,
    due: DueEnrollment,
    previousEmail: SentEmail | undefined,
    choice: VariantChoice | undefined,
  ): { message: PlannedMessage; trace?: RenderTrace } {
    const { campaign, now } = plan;
    const composed = composeMessage(campaign, step, { ...due, id: due.lead_id }, plan.templates, { steps: plan.steps, previousEmail }, choice?.variant);
    const review = campaign.requireReview || step.requireReview;
    const rendered = {
      idempotency_key: messageKey(campaign.id, due.lead_id, step.stepIndex),
      campaign_id: campaign.id,
      lead_id: due.lead_id,
      enrollment_id: due.id,
      step_index: step.stepIndex,
      channel: step.channel,
      recipient: (due[recipientColumn[step.channel]] as string | null) ?? null,
      subject: composed.subject,
      body: composed.body,
      format: composed.format,
      in_reply_to: composed.inReplyTo,
      thread_references: composed.references,
      template_version_id: composed.templateVersionId,
      variant: composed.variant,
      variant_reason: choice?.reason ?? null,
    };
    const trace =
      composed.templateVersionId !== null && composed.contextHash !== null && composed.outputHash !== null
        ? { templateVersionId: composed.templateVersionId, contextHash: composed.contextHash, outputHash: composed.outputHash }
        : undefined;
    const personalised = plan.personalisedSteps.has(step.stepIndex);
    if (composed.outcome === 'ok' || (composed.outcome === 'placeholder' && review)) {
      const status = personalised ? 'PLANNED' : review ? 'PENDING_REVIEW' : 'QUEUED';
      const held = composed.outcome === 'placeholder' ? composed.reason : null;
      return { message: { ...rendered, status, skip_reason: null, review_hold_reason: held, queued_at: status === 'QUEUED' ? now : null }, trace };
    }
    return { message: { ...rendered, status: 'SKIPPED', skip_reason: composed.reason, review_hold_reason: null, queued_at: null }, trace };
  }

  /** Due enrollments of the campaign, oldest due first, locked (`FOR UPDATE SKIP LOCKED`) with their lead's fields. */
  async function selectDue(trx: Knex.Transaction, campaignId: number, now: Date, limit: number): Promise<DueEnrollment[]> {
    return (await trx
      .select<DueEnrollment[]>(
        'cl.id',
        'cl.lead_id',
        'cl.current_step',
        'cl.segment',
        'l.email',
        'l.first_name',
        'l.last_name',
        'l.company',
        'l.custom',
        'l.linkedin_id',
        'l.x_user_id',
        'l.instagram_user_id',
      )
      .from(`${CAMPAIGN_LEADS} as cl`)
      .join('leads as l', 'l.id', 'cl.lead_id')
      .where('cl.campaign_id', campaignId)
      .whereIn('cl.state', [...LIVE_ENROLLMENT_STATES])
      .whereNotNull('cl.next_action_at')
      .where('cl.next_action_at', '<=', now)
      .orderBy([{ column: 'cl.next_action_at' }, { column: 'cl.id' }])
      .limit(limit)
      .forUpdate('cl')
      .skipLocked()) as DueEnrollment[];
  }

  /**
   * The variant choice of a batch: Thompson sampling for the steps that learn, from their
   * tallies read once for the batch (one read, only when a due lead is on such a step);
   * undefined (the weighted hash) for the others.
   */
  async function variantChooser(trx: Knex.Transaction, plan: TickPlan, due: readonly DueEnrollment[]) {
    const learning = [...new Set(due.map((enrollment) => enrollment.current_step).filter((index) => plan.learningSteps.has(index)))];
    const tallies = await readVariantTallies(trx, plan.campaign.id, learning);
    return (step: CampaignStep, enrollment: DueEnrollment): VariantChoice | undefined => {
      if (!plan.learningSteps.has(step.stepIndex)) return undefined;
      const key = tallyKey(step.stepIndex, enrollment.segment);
      const segmentTallies = tallies.get(key) ?? new Map<string, VariantTally>();
      tallies.set(key, segmentTallies);
      return thompsonChoice(step, enrollment.segment, segmentTallies, random);
    };
  }

  /**
   * One batch in one transaction; returns the messages inserted (not those already there).
   * The leads of threaded steps (whose emails reply to the last one sent) have their last sent
   * emails read in one statement per batch.
   */
  async function runBatch(plan: TickPlan, limit: number) {
    const { campaign, now } = plan;
    return db.transaction(async (trx) => {
      const due = await selectDue(trx, campaign.id, now, limit);
      if (due.length === 0) return { selected: 0, inserted: [] as InsertedMessage[] };
      const previousEmails = await lastSentEmails(
        trx,
        campaign.id,
        due.filter((enrollment) => plan.threadedSteps.has(enrollment.current_step)).map((enrollment) => ({ leadId: enrollment.lead_id, stepIndex: enrollment.current_step })),
      );

      const choose = await variantChooser(trx, plan, due);

      const planned: PlannedMessage[] = [];
      const traces = new Map<string, RenderTrace>();
      const finished: number[] = [];
      for (const enrollment of due) {
        const step = plan.steps[enrollment.current_step];
        if (step === undefined) finished.push(enrollment.id);
        else {
          const { message, trace } = planMessage(plan, step, enrollment, previousEmails.get(enrollment.lead_id), choose(step, enrollment));
          planned.push(message);
          if (trace !== undefined) traces.set(message.idempotency_key, trace);
        }
      }
      const inserted = await planMessages(trx, planned);
      const renders: RenderLogEntry[] = [];
      for (const message of inserted) {
        const trace = traces.get(message.idempotency_key);
        if (trace !== undefined) renders.push({ ...trace, messageId: message.id, now });
      }
      await logRenders(trx, renders);
      // Every selected enrollment leaves the due index: it waits for its message's outcome.
      await takeForTick(
        trx,
        due.map((enrollment) => enrollment.id),
        now,
      );
      const renderFailures = inserted.filter((message) => message.status === 'SKIPPED').map((message) => message.enrollment_id);
      if (renderFailures.length > 0) await endEnrollments(trx, { ids: renderFailures, state: 'FAILED', reason: 'message not sendable (see its skip reason)', now });
      if (finished.length > 0) await endEnrollments(trx, { ids: finished, state: 'COMPLETED', reason: null, now });
      return { selected: due.length, inserted };
    });
  }

  /**
   * What every batch of this tick plans from, read once: the definition's steps, the template
   * versions every message renders from, which steps thread and which are personalised.
   */
  async function readPlan({ campaign, steps }: CampaignDefinition, now: Date): Promise<TickPlan> {
    const templates = await currentVersions(db, referencedTemplateIds(steps));
    return {
      campaign,
      steps,
      templates,
      now,
      threadedSteps: new Set(steps.filter((step) => needsPreviousEmail(step, templates)).map((step) => step.stepIndex)),
      // Without a composer, personalised steps are planned like any other (nothing could compose them).
      personalisedSteps: new Set(compose === undefined ? [] : steps.filter((step) => step.personalizePrompt !== null).map((step) => step.stepIndex)),
      learningSteps: new Set(steps.filter((step) => step.variantSelection === 'thompson' && step.variants !== null).map((step) => step.stepIndex)),
    };
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
      const { campaign } = definition;
      const inserted = (await db.raw<{ rows: Array<{ id: number }> }>(
        `INSERT INTO tick_runs (campaign_id, slot, started_at) VALUES (?, ?, ?) ON CONFLICT (campaign_id, slot) DO NOTHING RETURNING id`,
        [campaignId, slot, clock.now()],
      )).rows[0];
      if (inserted === undefined) return { ...result, outcome: 'duplicate-slot' };

      const now = clock.now();
      const gate = await campaignGate({ db, config }, campaign, now);
      if (gate.kind === 'not-active' || gate.kind === 'killed' || gate.kind === 'outside-window') result.outcome = gate.kind;
      else {
        const plan = await readPlan(definition, now);
        let capLeft = gate.kind === 'open' ? gate.capLeft : 0;
        // A committed batch's jobs are added while the next batch is selected and written:
        // Redis and Postgres work overlap, one batch apart, and every add follows its commit.
        let adding: Promise<void> = Promise.resolve();
        while (capLeft > 0) {
          const batch = await runBatch(plan, Math.min(config.TICK_BATCH_SIZE, capLeft));
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
