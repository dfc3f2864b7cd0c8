import { Job } from 'bullmq';
import { DomainError, NotFoundError } from '../core/domain-error.js';
import type { Knex } from 'knex';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import { waitingPosts } from '../campaigns/post-store.js';
import { sqlWords } from '../db/bindings.js';
import { LIVE_ENROLLMENT_STATES } from '../enrollments/enrollment-lifecycle.js';
import { AWAITING_OPERATOR_STATUSES, MESSAGES } from '../messages/message-lifecycle.js';
import type { CampaignSpec } from '../campaigns/campaign-spec.js';
import type { Channel } from '../core/channels.js';
import { decideStrategy, findCampaign, findCampaignsNamed, listActiveCampaigns, pauseCampaignByDrumbeat, pauseCampaignsOnChannel, transitionCampaign, type Campaign, type CampaignStatus } from '../campaigns/campaign-store.js';
import { writeNewCampaign, writeSequenceEdit } from '../campaigns/definition-writer.js';

/** Raised for an operator request that the campaign's state does not allow. */
export class CampaignStateError extends DomainError {
  constructor(message: string) {
    super(message, 'conflict');
  }
}

/** The sentence for a new campaign whose name or slug another campaign already has. */
function nameTakenMessage(spec: Pick<CampaignSpec, 'name' | 'slug'>, existing: Pick<Campaign, 'id' | 'name' | 'slug'>): string {
  return existing.name === spec.name
    ? `a campaign named "${spec.name}" already exists (campaign ${existing.id}); choose another name`
    : `the slug "${spec.slug}" is already used by campaign ${existing.id}; choose another slug`;
}

/** Postgres's unique violation on the campaigns' name or slug, the backstop of the check before inserting. */
function isNameOrSlugViolation(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    error.code === '23505' &&
    'constraint' in error &&
    (error.constraint === 'campaigns_name_unique' || error.constraint === 'campaigns_slug_unique')
  );
}

export interface CampaignServiceDeps {
  db: Knex;
  queues: QueueRegistry;
  clock: Clock;
  log: Logger;
}

/**
 * The campaign lifecycle: DRAFT → ACTIVE ⇄ PAUSED → COMPLETED | ARCHIVED, with strategy approval
 * required to start. A pause is an operator's or drumbeat's (on a fault that is not a lead's,
 * with its reason); resume clears it. Ticks run from one BullMQ job scheduler per ACTIVE
 * campaign, upserted on start/resume and removed on pause, archive and completion.
 */
export function campaignService({ db, queues, clock, log }: CampaignServiceDeps) {
  async function require(id: number): Promise<Campaign> {
    const campaign = await findCampaign(db, id);
    if (campaign === undefined) throw new NotFoundError(`campaign ${id} does not exist`);
    return campaign;
  }

  async function transition(id: number, from: CampaignStatus[], to: CampaignStatus, extra?: Record<string, unknown>) {
    const current = await require(id);
    const updated = await transitionCampaign(db, id, from, to, extra);
    if (updated === undefined) {
      throw new CampaignStateError(`campaign ${id} is ${current.status}; it must be ${from.join(' or ')} to become ${to}`);
    }
    return updated;
  }

  async function upsertScheduler(campaign: Campaign): Promise<void> {
    await queues
      .get(queues.directory.campaignTick)
      .upsertJobScheduler(
        queues.directory.tickSchedulerId(campaign.id),
        { every: campaign.tickEveryMs },
        { name: queues.directory.campaignTick.jobName, data: { campaignId: campaign.id } },
      );
  }

  async function removeScheduler(id: number): Promise<void> {
    await queues.get(queues.directory.campaignTick).removeJobScheduler(queues.directory.tickSchedulerId(id));
  }

  /** Sends held while the campaign was paused wait in the delayed set: let them run now. */
  async function promoteHeldSends(id: number): Promise<void> {
    let afterId = 0;
    for (;;) {
      const held = (await db(MESSAGES)
        .where({ campaign_id: id, status: 'QUEUED' })
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(1000)
        .select('id', 'idempotency_key', 'channel')) as Array<{ id: number; idempotency_key: string; channel: Channel }>;
      if (held.length === 0) return;
      afterId = held[held.length - 1]?.id ?? afterId;
      await Promise.all(
        held.map(async (message) => {
          const job = await Job.fromId(queues.get(queues.directory.send[message.channel]), message.idempotency_key);
          if (job !== undefined && (await job.isDelayed())) await job.promote();
        }),
      );
    }
  }

  /**
   * Posts held while the campaign was paused (their time has come) wait in the delayed set too:
   * let them run now. Posts still ahead of their time keep their delay.
   */
  async function promoteHeldPosts(id: number): Promise<void> {
    const now = clock.now().getTime();
    for (const post of await waitingPosts(db, id)) {
      if (post.scheduledAt.getTime() > now) continue;
      const job = await Job.fromId(queues.get(queues.directory.publish[post.platform]), post.postKey);
      if (job !== undefined && (await job.isDelayed())) await job.promote();
    }
  }

  return {
    require,

    /**
     * Creates a DRAFT campaign. A name or slug already in use is refused before inserting, so
     * no id is spent on it; the unique constraints stay the backstop for a concurrent create.
     */
    async create(spec: CampaignSpec): Promise<number> {
      const [existing] = await findCampaignsNamed(db, spec.name, spec.slug);
      if (existing !== undefined) throw new CampaignStateError(nameTakenMessage(spec, existing));
      try {
        return await db.transaction((trx) => writeNewCampaign(trx, spec));
      } catch (error) {
        if (!isNameOrSlugViolation(error)) throw error;
        const [winner] = await findCampaignsNamed(db, spec.name, spec.slug);
        throw new CampaignStateError(winner === undefined ? `a campaign named "${spec.name}" or with slug "${spec.slug}" already exists` : nameTakenMessage(spec, winner));
      }
    },

    async approve(id: number, note: string | null, by: string): Promise<Campaign> {
      const current = await require(id);
      const updated = await decideStrategy(db, id, 'APPROVED', note, by, clock.now());
      if (updated === undefined) throw new CampaignStateError(`campaign ${id} is ${current.status}; only a DRAFT or PAUSED campaign can be approved`);
      return updated;
    },

    async reject(id: number, reason: string, by: string): Promise<Campaign> {
      const current = await require(id);
      const updated = await decideStrategy(db, id, 'REJECTED', reason, by, clock.now());
      if (updated === undefined) throw new CampaignStateError(`campaign ${id} is ${current.status}; only a DRAFT or PAUSED campaign can be rejected`);
      return updated;
    },

    /**
     * Replaces the sequence (steps, review settings, LLM fallback, posts; see `writeSequenceEdit`)
     * of a DRAFT or PAUSED campaign from a spec. The strategy returns to DRAFT: what was approved
     * is no longer what would run.
     */
    async editSequence(id: number, spec: CampaignSpec, by: string): Promise<Campaign> {
      const current = await require(id);
      const updated = await db.transaction((trx) => writeSequenceEdit(trx, id, spec, by, clock.now()));
      if (updated === undefined) {
        throw new CampaignStateError(`campaign ${id} is ${current.status}; pause it before editing its sequence`);
      }
      log.info({ campaignId: id, by }, 'campaign sequence edited; strategy back to DRAFT');
      return updated;
    },

    async start(id: number): Promise<Campaign> {
      const current = await require(id);
      if (current.strategyStatus !== 'APPROVED') {
        throw new CampaignStateError(`campaign ${id} has strategy ${current.strategyStatus}; approve it before starting`);
      }
      const started = await transition(id, ['DRAFT'], 'ACTIVE', { started_at: clock.now() });
      await upsertScheduler(started);
      log.info({ campaignId: id }, 'campaign started');
      return started;
    },

    /** An operator's pause; `by` says from where (`cli`, `api`). It carries no fault reason. */
    async pause(id: number, by = 'operator'): Promise<Campaign> {
      const paused = await transition(id, ['ACTIVE'], 'PAUSED', { pause_reason: null, paused_at: clock.now(), paused_by: by });
      await removeScheduler(id);
      log.info({ campaignId: id, by }, 'campaign paused');
      return paused;
    },

    /**
     * Pauses, by drumbeat, every ACTIVE LIVE campaign sending through the account that failed
     * (a fault of the sender, account, relay, token or config, never of a lead), each with the
     * reason, and stops their ticks as a manual pause does. Logged once, at error level, by the
     * call that paused them; concurrent sends hitting the same fault find nothing left to pause.
     */
    async pauseForSenderFault(fault: { channel: Channel; campaignId: number; reason: string }): Promise<Campaign[]> {
      const paused = await pauseCampaignsOnChannel(db, { ...fault, now: clock.now() });
      for (const campaign of paused) await removeScheduler(campaign.id);
      if (paused.length > 0) {
        log.error(
          { campaignIds: paused.map((campaign) => campaign.id), channel: fault.channel, reason: fault.reason },
          `paused by drumbeat: ${fault.reason} (campaigns ${paused.map((campaign) => campaign.id).join(', ')}); fix it, then resume them`,
        );
      }
      return paused;
    },

    /**
     * Pauses an ACTIVE campaign by drumbeat with the reason, in the caller's transaction, so that
     * the pause commits with what caused it (the deliverability guard pauses in the transaction
     * that applies the event crossing its line). Returns the paused campaign, or undefined when it
     * was not ACTIVE; once the transaction commits, hand it to {@link afterPauseByDrumbeat}.
     */
    pauseByDrumbeatWithin(trx: Knex, id: number, reason: string): Promise<Campaign | undefined> {
      return pauseCampaignByDrumbeat(trx, id, reason, clock.now());
    },

    /**
     * After a pause by drumbeat committed: stops the campaign's ticks and logs it once, at error
     * level. Were this lost (a crash), the tick and the send gates still see PAUSED, and the
     * scheduler sync removes the tick scheduler of a campaign that is not ACTIVE.
     */
    async afterPauseByDrumbeat(campaign: Campaign): Promise<void> {
      await removeScheduler(campaign.id);
      log.error({ campaignId: campaign.id, reason: campaign.pauseReason }, `paused by drumbeat: ${campaign.pauseReason ?? ''} (campaign ${campaign.id}); resume it once the cause is understood`);
    },

    async resume(id: number): Promise<Campaign> {
      const current = await require(id);
      if (current.strategyStatus !== 'APPROVED') {
        throw new CampaignStateError(`campaign ${id} has strategy ${current.strategyStatus}; approve it before resuming`);
      }
      const resumed = await transition(id, ['PAUSED'], 'ACTIVE', { pause_reason: null, paused_at: null, paused_by: null });
      await upsertScheduler(resumed);
      await promoteHeldSends(id);
      await promoteHeldPosts(id);
      log.info({ campaignId: id }, 'campaign resumed');
      return resumed;
    },

    async archive(id: number): Promise<Campaign> {
      const archived = await transition(id, ['DRAFT', 'ACTIVE', 'PAUSED', 'COMPLETED'], 'ARCHIVED');
      await removeScheduler(id);
      log.info({ campaignId: id }, 'campaign archived');
      return archived;
    },

    /** Marks an ACTIVE campaign COMPLETED, stops its ticks and has its metrics rolled up (once per completion). */
    async complete(id: number): Promise<Campaign | undefined> {
      const completedAt = clock.now();
      const completed = await transitionCampaign(db, id, ['ACTIVE'], 'COMPLETED', { completed_at: completedAt });
      if (completed !== undefined) {
        await removeScheduler(id);
        const rollup = queues.directory.metricsRollup;
        await queues.get(rollup).add(rollup.jobName, rollup.schema.parse({ campaignId: id }), { jobId: queues.directory.completedCampaignRollupJobId(id, completedAt) });
        log.info({ campaignId: id }, 'campaign completed');
      }
      return completed;
    },

    /**
     * COMPLETED → ACTIVE (compare-and-set), when an operator retries the DEAD messages that were
     * all it had left; re-creates its tick scheduler. Returns undefined when it was not COMPLETED.
     */
    async reopen(id: number): Promise<Campaign | undefined> {
      const reopened = await transitionCampaign(db, id, ['COMPLETED'], 'ACTIVE', { completed_at: null });
      if (reopened !== undefined) {
        await upsertScheduler(reopened);
        log.info({ campaignId: id }, 'campaign reopened for retried messages');
      }
      return reopened;
    },

    /**
     * Completes an ACTIVE campaign once every enrollment is over: terminal, or stopped on a DEAD
     * or UNKNOWN message that waits for an operator. A campaign with no leads is never complete.
     */
    async completeIfFinished(id: number): Promise<boolean> {
      const { rows } = await db.raw<{ rows: Array<{ has_leads: boolean; open: boolean }> }>(
        `SELECT EXISTS (SELECT 1 FROM campaign_leads WHERE campaign_id = ?) AS has_leads,
                EXISTS (SELECT 1 FROM campaign_leads cl
                         WHERE cl.campaign_id = ? AND cl.state IN (${sqlWords(LIVE_ENROLLMENT_STATES)})
                           AND NOT EXISTS (SELECT 1 FROM messages m
                                            WHERE m.enrollment_id = cl.id AND m.step_index = cl.current_step
                                              AND m.status IN (${sqlWords(AWAITING_OPERATOR_STATUSES)}))) AS open`,
        [id, id],
      );
      const state = rows[0];
      if (state === undefined || !state.has_leads || state.open) return false;
      return (await this.complete(id)) !== undefined;
    },

    /** Makes the job schedulers match the ACTIVE campaigns (run at worker start-up). */
    async syncSchedulers(): Promise<number> {
      const active = await listActiveCampaigns(db);
      for (const campaign of active) await upsertScheduler(campaign);
      const activeIds = new Set(active.map((campaign) => queues.directory.tickSchedulerId(campaign.id)));
      const schedulers = await queues.get(queues.directory.campaignTick).getJobSchedulers();
      for (const scheduler of schedulers) {
        if (!activeIds.has(scheduler.key)) await queues.get(queues.directory.campaignTick).removeJobScheduler(scheduler.key);
      }
      return active.length;
    },
  };
}

export type CampaignService = ReturnType<typeof campaignService>;
