import { UnrecoverableError } from 'bullmq';
import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../runtime/clock.js';
import type { Channel } from '../campaigns/campaign-spec.js';
import { isInsideWindow, nextWindowOpening } from '../campaigns/send-window.js';
import { Batcher } from '../db/batcher.js';
import { Semaphore } from '../runtime/semaphore.js';
import { AmbiguousSendError, type ChannelAdapter, type OutboundMessage, type SendResult } from '../channels/adapter.js';
import { classifyDeliveryFailure, missingAdapterFailure } from '../channels/delivery-failure.js';
import type { CampaignService } from '../campaigns/campaign-service.js';
import { unsubscribeSecret } from '../settings/installation-secrets.js';
import { capScopes, releaseCaps, reserveCaps, type CapScope } from './caps.js';
import { loadSendContexts, type SendContextRow } from './message-store.js';
import {
  claimForSending,
  recordDeliveries,
  settleFailedSend,
  skipMessage,
  SENDABLE_STATUSES,
  type Delivery,
  type SendClaim,
} from './message-lifecycle.js';
import { ENDED_ENROLLMENT_STATES, type EnrollmentEffect } from '../enrollments/enrollment-lifecycle.js';
import { suppress } from '../suppression/suppression-service.js';
import { emailIdentity } from '../channels/email/email-identity.js';
import type { DomainThrottle } from '../channels/email/domain-throttle.js';

/** How many times a delivery the provider accepted is written before the job gives up. */
const outcomeWriteAttempts = 8;

/**
 * Batches of each kind (context reads, claims, outcomes) running at once: Postgres works on
 * some while the worker prepares the next, and the pool has connections to spare.
 */
const sendBatchesInFlight = 4;

/** How long a held job waits before its gates are checked again. */
const holdFor = {
  killSwitch: 10_000,
  paused: 5 * 60_000,
  workerStopping: 1_000,
} as const;

/** What a send job should do next; the processor turns holds and rate limits into BullMQ moves. */
export type SendDecision =
  | { kind: 'sent'; status: 'SENT' | 'SENT_PROOF'; externalId: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'not-sendable'; status: string }
  | { kind: 'unknown'; reason: string }
  | { kind: 'hold'; until: Date; reason: string }
  | { kind: 'rate-limited'; retryAfterMs: number };

export interface AttemptInfo {
  /** Attempts already made before this one. */
  attemptsMade: number;
  /** Attempts allowed in all. */
  attempts: number;
}

export interface SendServiceDeps {
  db: Knex;
  config: Config;
  clock: Clock;
  log: Logger;
  /** The adapter of each channel for LIVE campaigns; PROOF campaigns always use `proof`. */
  liveAdapters: Partial<Record<Channel, ChannelAdapter>>;
  proof: ChannelAdapter;
  /** Per-recipient-domain throttle of LIVE email; none means no limit. */
  domainThrottle?: DomainThrottle;
  /** Pauses the campaigns of an account that failed (a fault that is not the lead's). */
  campaigns: Pick<CampaignService, 'pauseForSenderFault'>;
}

/** Given to the LIVE sends still waiting for a call slot when their worker stops. */
class WorkerStopping extends Error {
  constructor() {
    super('worker stopping');
  }
}

class CapFull extends Error {
  constructor(readonly scope: CapScope) {
    super(`cap ${scope.scope} full`);
  }
}

const endedEnrollmentStates = new Set<string>(ENDED_ENROLLMENT_STATES);
const sendableStatuses = new Set<string>(SENDABLE_STATUSES);

/**
 * Why a retried DEAD message (a Bull Board retry of its failed job) is not sent, and what the
 * operator can do: `drumbeat messages retry` reopens a COMPLETED campaign or a FAILED lead.
 */
function deadLetterRefusal(context: SendContextRow, reason: string): string {
  const reopen = `run "drumbeat messages retry ${context.id}" to reopen it`;
  if (context.campaign_status === 'COMPLETED') return `not sent: campaign ${context.campaign_id} is COMPLETED; ${reopen}`;
  if (context.campaign_status === 'ARCHIVED') return `not sent: campaign ${context.campaign_id} is ARCHIVED; message ${context.id} stays DEAD`;
  if (context.enrollment_state === 'FAILED') return `not sent: the lead's sequence in campaign ${context.campaign_id} ended FAILED; ${reopen}`;
  return `not sent: ${reason.startsWith('suppressed: ') ? `the lead is ${reason}` : reason}; message ${context.id} stays DEAD`;
}

/**
 * Sends one message: re-reads it, re-checks every gate right before the adapter (kill switch,
 * campaign ACTIVE, message sendable, lead live and not replied, not suppressed, send window,
 * caps), claims it QUEUED → SENDING in a committed compare-and-set, calls the adapter, and
 * records the outcome. Context reads, claims and outcome writes of concurrent jobs are batched.
 */
export function sendService({ db, config, clock, log, liveAdapters, proof, domainThrottle, campaigns }: SendServiceDeps) {
  const contexts = new Batcher<number, SendContextRow | undefined>(async (ids) => {
    const byId = await loadSendContexts(db, ids);
    return ids.map((id) => byId.get(id));
  }, undefined, sendBatchesInFlight);
  const claims = new Batcher<SendClaim, boolean>(async (batch) => {
    const claimed = await claimForSending(db, batch, clock.now());
    // One row update claims a message once: if two jobs asked for the same message in one
    // batch, only the first gets it.
    return batch.map((claim) => claimed.delete(claim.id));
  }, undefined, sendBatchesInFlight);
  let emailSecret: Promise<string> | undefined;
  /** The unsubscribe/Message-ID key, read once per process (a failed read is tried again next time). */
  function emailIdentitySecret(): Promise<string> {
    emailSecret ??= unsubscribeSecret(config, db).catch((error: unknown) => {
      emailSecret = undefined;
      throw error;
    });
    return emailSecret;
  }
  const callSlots = new Map<Channel, Semaphore>();
  /** Bounds the LIVE calls of one channel in flight (SMTP conversations, platform requests). */
  function liveCallSlots(channel: Channel): Semaphore {
    let slots = callSlots.get(channel);
    if (slots === undefined) {
      slots = new Semaphore(config.LIVE_SEND_SLOTS);
      callSlots.set(channel, slots);
    }
    return slots;
  }
  const deliveries = new Batcher<Delivery, boolean>(async (batch) => {
    const recorded = await recordDeliveries(db, batch, clock.now());
    return batch.map((delivery) => recorded.has(delivery.id));
  }, undefined, sendBatchesInFlight);

  /** Claims one message with its cap units in one transaction; returns the full scope if any. */
  async function claimWithCaps(claim: SendClaim, scopes: CapScope[]): Promise<{ claimed: boolean; full?: CapScope }> {
    return db.transaction(async (trx) => {
      const claimed = await claimForSending(trx, [claim], clock.now());
      if (!claimed.has(claim.id)) return { claimed: false };
      const full = await reserveCaps(trx, scopes);
      // Throwing rolls the claim back: the message stays QUEUED and takes no unit anywhere.
      if (full !== undefined) throw new CapFull(full);
      return { claimed: true };
    }).catch((error: unknown) => {
      if (error instanceof CapFull) return { claimed: false, full: error.scope };
      throw error;
    });
  }

  function skip(context: SendContextRow, reason: string, effect: EnrollmentEffect): Promise<SendDecision> {
    // A DEAD message's job runs only when an operator retries it from Bull Board: it must not
    // end as a quiet success, so the message stays DEAD and the job fails saying why.
    if (context.status === 'DEAD') return Promise.reject(new UnrecoverableError(deadLetterRefusal(context, reason)));
    return skipMessage(db, { id: context.id, reason, now: clock.now(), effect }).then(
      (settled): SendDecision => (settled ? { kind: 'skipped', reason } : { kind: 'not-sendable', status: 'changed concurrently' }),
    );
  }

  /**
   * The claim found the message no longer sendable, or a gate (pause, kill switch, suppression)
   * changed after the checks above. Check again shortly: the next run sees which it was.
   */
  function lostClaim(now: Date): SendDecision {
    return { kind: 'hold', until: new Date(now.getTime() + holdFor.killSwitch), reason: 'state changed while claiming' };
  }

  /**
   * Records a delivery the provider has accepted. The write is idempotent (SENDING → SENT), so a
   * database blip is retried here: failing the job instead would leave the message SENDING and,
   * once stale, UNKNOWN, although we know it was sent.
   */
  async function recordDelivery(delivery: Delivery): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await deliveries.run(delivery);
        return;
      } catch (error) {
        if (attempt >= outcomeWriteAttempts) throw error;
        log.warn({ err: error, messageId: delivery.id, attempt }, 'recording a delivery failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  }

  function adapterFor(context: SendContextRow): ChannelAdapter | undefined {
    return context.mode === 'PROOF' ? proof : liveAdapters[context.channel];
  }

  async function callAdapter(adapter: ChannelAdapter, message: OutboundMessage): Promise<SendResult> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new AmbiguousSendError(`no answer from ${adapter.provider} within ${config.SEND_TIMEOUT} ms`));
      }, config.SEND_TIMEOUT);
    });
    try {
      return await Promise.race([adapter.send(message, { signal: controller.signal }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    /**
     * At shutdown: the LIVE sends waiting for a call slot give their jobs back (held, QUEUED)
     * instead of keeping the worker open until every one of them has had its turn.
     */
    releaseWaitingSends(): void {
      for (const slots of callSlots.values()) slots.turnAway(new WorkerStopping());
    },

    async send(messageId: number, attempt: AttemptInfo): Promise<SendDecision> {
      const context = await contexts.run(messageId);
      if (context === undefined) throw new UnrecoverableError(`message ${messageId} does not exist`);
      const now = clock.now();

      // Gates, cheapest and most final first. Temporary gates hold the message QUEUED.
      if (!sendableStatuses.has(context.status)) return { kind: 'not-sendable', status: context.status };
      if (context.killed) return { kind: 'hold', until: new Date(now.getTime() + holdFor.killSwitch), reason: 'kill switch on' };
      if (context.campaign_status === 'ARCHIVED' || context.campaign_status === 'COMPLETED') {
        return skip(context, `campaign ${context.campaign_status.toLowerCase()}`, { kind: 'none' });
      }
      if (context.campaign_status !== 'ACTIVE') {
        return { kind: 'hold', until: new Date(now.getTime() + holdFor.paused), reason: `campaign ${context.campaign_status}` };
      }
      if (context.enrollment_state === 'REPLIED' && context.stop_on_reply) return skip(context, 'lead replied', { kind: 'none' });
      if (endedEnrollmentStates.has(context.enrollment_state) && context.enrollment_state !== 'REPLIED') {
        return skip(context, `lead ${context.enrollment_state.toLowerCase()}`, { kind: 'none' });
      }
      if (context.suppressed_by !== null) {
        return skip(context, `suppressed: ${context.suppressed_by}`, { kind: 'end', state: 'SUPPRESSED', reason: context.suppressed_by });
      }
      if (context.recipient === null || context.body === null) {
        return skip(context, `lead has no ${context.channel} address`, { kind: 'advance' });
      }
      const zone = context.lead_timezone ?? context.timezone;
      if (!isInsideWindow(now, zone, context.send_window)) {
        return { kind: 'hold', until: nextWindowOpening(now, zone, context.send_window), reason: 'outside send window' };
      }
      const adapter = adapterFor(context);
      if (adapter === undefined) {
        // Our configuration's fault, not the lead's: the message stays QUEUED (it was never claimed).
        const { reason } = missingAdapterFailure(context.channel);
        return pauseOnSenderFault(context, reason);
      }

      // An open breaker or a full recipient-domain window delays the job; no attempt is spent.
      const openUntil = adapter.openUntil?.();
      if (openUntil !== undefined) return { kind: 'hold', until: openUntil, reason: `${adapter.provider} circuit breaker open` };
      if (domainThrottle !== undefined && context.mode === 'LIVE' && context.channel === 'email') {
        const domain = context.recipient.split('@')[1] ?? '';
        const until = await domainThrottle.take(domain);
        if (until !== undefined) return { kind: 'hold', until, reason: `recipient domain ${domain} throttled` };
      }

      const fields = {
        id: context.id,
        idempotencyKey: context.idempotency_key,
        campaignId: context.campaign_id,
        recipient: context.recipient,
        subject: context.subject,
        body: context.body,
        format: context.format,
        fromName: context.from_name,
        fromEmail: context.from_email,
        replyTo: context.reply_to,
        ...(context.channel === 'email' ? { thread: { inReplyTo: context.in_reply_to, references: context.thread_references } } : {}),
      };
      let message: OutboundMessage;
      const claim: SendClaim = { id: context.id, providerMessageId: null, unsubscribeTokenHash: null };
      if (context.channel === 'email') {
        // Every email has its Message-ID and unsubscribe link, stored with the claim before the
        // send: an unsubscribe click or a reply may arrive as soon as it is out.
        const { tokenHash, ...extras } = emailIdentity(
          { secret: await emailIdentitySecret(), publicUrl: config.PUBLIC_URL, mailto: config.UNSUBSCRIBE_MAILTO },
          { idempotencyKey: context.idempotency_key, fromEmail: context.from_email, replyTo: context.reply_to },
        );
        claim.providerMessageId = extras.messageId;
        // A PROOF email never leaves: no link can be clicked, so its token is not stored (an
        // index entry per message saved); its Message-ID is, for the follow-ups it threads.
        claim.unsubscribeTokenHash = context.mode === 'LIVE' ? tokenHash : null;
        message = { ...fields, channel: 'email', email: extras };
      } else {
        message = { ...fields, channel: context.channel };
      }

      const scopes = capScopes(config, { id: context.campaign_id, dailyCap: context.daily_cap, timezone: context.timezone }, context.channel, now);
      // Claim: QUEUED → SENDING committed (with cap units, atomically) before the adapter call.
      // A LIVE send takes one of its channel's call slots first, so it waits QUEUED, not SENDING.
      const claimAndCall = async (): Promise<{ decision: SendDecision } | { result: SendResult } | { error: unknown }> => {
        if (scopes.length === 0) {
          if (!(await claims.run(claim))) return { decision: lostClaim(now) };
        } else {
          const claimed = await claimWithCaps(claim, scopes);
          if (claimed.full !== undefined) {
            return { decision: { kind: 'hold', until: claimed.full.resetsAt, reason: `daily cap ${claimed.full.scope} reached` } };
          }
          if (!claimed.claimed) return { decision: lostClaim(now) };
        }
        try {
          return { result: await callAdapter(adapter, message) };
        } catch (error) {
          return { error };
        }
      };
      let called: Awaited<ReturnType<typeof claimAndCall>>;
      try {
        called = context.mode === 'LIVE' ? await liveCallSlots(context.channel).use(claimAndCall) : await claimAndCall();
      } catch (error) {
        // Still QUEUED: the job goes back to Redis (delayed, no attempt spent) for another run.
        if (error instanceof WorkerStopping) return { kind: 'hold', until: new Date(now.getTime() + holdFor.workerStopping), reason: error.message };
        throw error;
      }
      if ('decision' in called) return called.decision;
      if ('error' in called) return handleSendError(context, called.error, scopes, attempt);
      const { result } = called;
      const status = context.mode === 'PROOF' ? 'SENT_PROOF' : 'SENT';
      await recordDelivery({ id: context.id, status, provider: result.provider, externalId: result.externalId });
      return { kind: 'sent', status, externalId: result.externalId };
    },
  };

  /**
   * A fault of the sender, account, relay, token or our config: nothing about this lead. Every
   * campaign sending through the account pauses with the reason; this job waits (delayed, no
   * attempt spent) and runs once more when its campaign is resumed.
   */
  async function pauseOnSenderFault(context: SendContextRow, reason: string): Promise<SendDecision> {
    await campaigns.pauseForSenderFault({ channel: context.channel, campaignId: context.campaign_id, reason });
    return { kind: 'hold', until: new Date(clock.now().getTime() + holdFor.paused), reason: `paused by drumbeat: ${reason}` };
  }

  /** Settles a failed adapter call by whose problem it was (see `classifyDeliveryFailure`). */
  async function handleSendError(context: SendContextRow, error: unknown, scopes: CapScope[], attempt: AttemptInfo): Promise<SendDecision> {
    const now = clock.now();
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const failure = classifyDeliveryFailure(error);
    if (failure.kind === 'ambiguous') {
      // The provider may have acted: keep the cap unit, never retry on our own.
      await settleFailedSend(db, { id: context.id, to: 'UNKNOWN', now, error: text, effect: { kind: 'none' } });
      log.error({ messageId: context.id, err: error }, 'send outcome unknown; an operator must resolve it');
      return { kind: 'unknown', reason: text };
    }
    await releaseCaps(db, scopes);
    switch (failure.kind) {
      case 'breaker-open':
        // The breaker opened between the check and the call: nothing was sent.
        await settleFailedSend(db, { id: context.id, to: 'QUEUED', now, error: text, effect: { kind: 'none' } });
        return { kind: 'hold', until: failure.retryAt, reason: failure.reason };
      case 'rate-limited':
        await settleFailedSend(db, { id: context.id, to: 'QUEUED', now, error: text, effect: { kind: 'none' } });
        return { kind: 'rate-limited', retryAfterMs: failure.retryAfterMs };
      case 'sender':
        await settleFailedSend(db, { id: context.id, to: 'QUEUED', now, error: text, effect: { kind: 'none' }, giveBackAttempt: true });
        return pauseOnSenderFault(context, failure.reason);
      case 'recipient':
      case 'message': {
        const bounced = failure.kind === 'recipient';
        await settleFailedSend(db, {
          id: context.id,
          to: 'DEAD',
          now,
          error: text,
          // A DEAD message keeps its enrollment waiting on it, so a retry from the dead-letter view can still send.
          effect: bounced ? { kind: 'end', state: 'BOUNCED', reason: failure.reason } : { kind: 'none' },
        });
        // Only an email address is suppressed: a platform refusing a DM says nothing about the address.
        if (bounced && context.channel === 'email' && context.lead_email !== null) await suppress(db, context.lead_email, { reason: 'hard bounce' });
        log.error({ messageId: context.id, err: error }, 'send failed permanently');
        throw new UnrecoverableError(text);
      }
      case 'transient': {
        const finalAttempt = attempt.attemptsMade + 1 >= attempt.attempts;
        await settleFailedSend(db, {
          id: context.id,
          to: finalAttempt ? 'DEAD' : 'FAILED',
          now,
          error: text,
          effect: { kind: 'none' },
        });
        if (finalAttempt) log.error({ messageId: context.id, err: error }, 'send failed after every attempt');
        throw error instanceof Error ? error : new Error(text);
      }
    }
  }
}

export type SendService = ReturnType<typeof sendService>;
