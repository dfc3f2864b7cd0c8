import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { Campaign } from '../campaigns/campaign-store.js';
import type { CampaignService } from '../orchestration/campaign-service.js';
import type { CampaignSpec } from '../campaigns/campaign-spec.js';
import type { ReviewEdit, ReviewService } from '../review/review-service.js';
import { deadLetterService, type RetrySelection } from '../messages/dead-letter-service.js';
import { unknownService, type Resolution } from '../messages/unknown-service.js';
import { readKillSwitch, setKillSwitch } from '../settings/kill-switch.js';
import { audited, type Auditor } from './audited.js';
import { recordAuditEntries } from './audit-log.js';
import { auditedDataActions } from './audited-data-actions.js';

/** The campaign lifecycle actions a person takes. */
export type CampaignAction = 'approve' | 'reject' | 'start' | 'pause' | 'resume' | 'archive';

/** What {@link auditedActions} calls: the services that own each rule. */
export interface AuditedActionDeps {
  db: Knex;
  queues: QueueRegistry;
  config: Config;
  log: Logger;
  campaigns: CampaignService;
  reviews: ReviewService;
}

function campaignState(campaign: Campaign) {
  return { status: campaign.status, strategyStatus: campaign.strategyStatus, strategyNote: campaign.strategyNote };
}

/** One entry per decided message, each with the state it was left in (review decisions are audited per message). */
async function recordEachMessage(auditor: Auditor, action: string, ids: readonly number[], after: Record<string, unknown>): Promise<void> {
  const entries = ids.map((id) => ({ actor: auditor.actor, via: auditor.via, action, subjectType: 'message', subjectId: String(id), before: { status: 'PENDING_REVIEW' }, after }));
  await recordAuditEntries(auditor.db, entries, auditor.clock.now());
}

/**
 * Every state change a person can make, each calling the service that owns the rule and
 * recording who did it in the audit log with the state before and after. The admin pages, the
 * admin API and the CLI all go through these, so a change is audited the same way wherever it
 * is made. Secrets (passwords, token values) are never part of a record.
 */
export function auditedActions(deps: AuditedActionDeps, auditor: Auditor) {
  const { db, campaigns, reviews } = deps;
  const by = auditor.actor;
  return {
    ...auditedDataActions(db, auditor),

    /** Creates a campaign from a spec (DRAFT). */
    createCampaign(spec: CampaignSpec): Promise<number> {
      return audited(auditor, { action: 'campaign.create', subjectType: 'campaign', subjectId: (id) => id }, () => campaigns.create(spec), (id) => ({ id, name: spec.name, slug: spec.slug, status: 'DRAFT' }));
    },

    /** Replaces a campaign's sequence from a spec; its strategy goes back to DRAFT. */
    async editSequence(id: number, spec: CampaignSpec): Promise<Campaign> {
      const before = campaignState(await campaigns.require(id));
      return audited(auditor, { action: 'campaign.edit', subjectType: 'campaign', subjectId: id, before }, () => campaigns.editSequence(id, spec, by), campaignState);
    },

    /** Approves or rejects the strategy (`note` is the note or the reason), or starts, pauses, resumes, archives. */
    async campaign(id: number, action: CampaignAction, note: string | null = null): Promise<Campaign> {
      const before = campaignState(await campaigns.require(id));
      const change = (): Promise<Campaign> => {
        switch (action) {
          case 'approve':
            return campaigns.approve(id, note, by);
          case 'reject':
            return campaigns.reject(id, note ?? '', by);
          case 'pause':
            return campaigns.pause(id, by);
          default:
            return campaigns[action](id);
        }
      };
      return audited(auditor, { action: `campaign.${action}`, subjectType: 'campaign', subjectId: id, before }, change, campaignState);
    },

    /** Turns the global kill switch on (stop all sending) or off. */
    async killSwitch(on: boolean) {
      const before = { on: (await readKillSwitch(db)).on };
      return audited(auditor, { action: on ? 'kill-switch.on' : 'kill-switch.off', subjectType: 'kill-switch', subjectId: null, before }, () => setKillSwitch({ db, queues: deps.queues, clock: auditor.clock }, on, by), (state) => ({ on: state.on }));
    },

    /** Approves waiting messages (they are sent at once, every gate still applies); one entry per message approved. */
    async reviewApprove(ids: readonly number[], note: string | null = null) {
      const outcome = await reviews.approve(ids, { by, note });
      await recordEachMessage(auditor, 'message.approve', outcome.done, { status: 'QUEUED', note });
      return outcome;
    },

    /** Approves every waiting message of a campaign; one entry per message approved. */
    async reviewApproveCampaign(campaignId: number, note: string | null = null) {
      const outcome = await reviews.approveCampaign(campaignId, { by, note });
      await recordEachMessage(auditor, 'message.approve', outcome.done, { status: 'QUEUED', note });
      return outcome;
    },

    /** Rejects waiting messages with a reason; one entry per message rejected. */
    async reviewReject(ids: readonly number[], reason: string) {
      const outcome = await reviews.reject(ids, { by, reason });
      await recordEachMessage(auditor, 'message.reject', outcome.done, { status: 'REJECTED', reason });
      return outcome;
    },

    /** Replaces the text of a waiting message (the text is data, never parsed as a template). */
    async reviewEdit(id: number, edit: ReviewEdit) {
      const [current] = await reviews.list({ afterId: id - 1, limit: 1 });
      const before = current?.id === id ? { subject: current.subject, body: current.body } : undefined;
      return audited(auditor, { action: 'message.edit', subjectType: 'message', subjectId: id, before }, () => reviews.edit(id, edit, by), (message) => ({ subject: message.subject, body: message.body }));
    },

    /** Queues DEAD messages again through every gate. */
    retryDead(selection: RetrySelection) {
      const subject = 'ids' in selection ? { subjectType: 'message', subjectId: selection.ids.length === 1 ? (selection.ids[0] ?? null) : null } : { subjectType: 'campaign', subjectId: selection.campaignId };
      return audited(
        auditor,
        { action: 'message.retry', ...subject, before: { ...selection, status: 'DEAD' } },
        () => deadLetterService({ ...deps, clock: auditor.clock }).retry(selection, by),
        (outcome) => ({ queued: outcome.queued, refused: outcome.refused, notDead: outcome.notDead, missing: outcome.missing }),
      );
    },

    /** Settles UNKNOWN messages as sent, failed or resend. */
    resolveUnknown(ids: readonly number[], resolution: Resolution) {
      return audited(
        auditor,
        { action: 'message.resolve', subjectType: 'message', subjectId: ids.length === 1 ? (ids[0] ?? null) : null, before: { ids, status: 'UNKNOWN' } },
        () => unknownService({ ...deps, clock: auditor.clock }).resolve(ids, resolution, by),
        (resolved) => ({ resolution, resolved }),
      );
    },

  };
}

/** The audited actions of one person acting through one interface. */
export type AuditedActions = ReturnType<typeof auditedActions>;
