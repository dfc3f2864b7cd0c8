import { UnrecoverableError } from 'bullmq';
import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { Channel } from '../core/channels.js';
import type { CampaignPauser } from '../delivery/campaign-pauser.js';
import { Batcher } from '../core/batcher.js';
import { Semaphore } from '../core/semaphore.js';
import type { ChannelAdapter, OutboundMessage, SendResult } from '../channels/adapter.js';
import { missingAdapterFailure } from '../channels/delivery-failure.js';
import { emailIdentity } from '../channels/email/email-identity.js';
import type { DomainThrottle } from '../channels/email/domain-throttle.js';
import { holdFrom, type DeliveryDecision, type DeliveryResult, type Hold } from '../delivery/delivery-decision.js';
import type { DeliveryFacts, DeliveryRoute, FailedCall, MissingTarget } from '../delivery/delivery-pipeline.js';
import type { EnrollmentEffect } from '../enrollments/enrollment-lifecycle.js';
import { unsubscribeSecret } from '../settings/installation-secrets.js';
import { suppress } from '../suppression/suppression-service.js';
import { capScopes, releaseCaps, reserveCaps, type CapScope } from './caps.js';
import { loadSendContexts, type SendContextRow } from './message-store.js';
import { claimForSending, recordDeliveries, settleFailedSend, skipMessage, type Delivery, type SendClaim, type SendFailureStatus } from './message-lifecycle.js';
import { deadLetterRefusal, isAddressed, sendFacts, sendGate, type AddressedSendContext } from './send-gates.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';

/** How many times a delivery the provider accepted is written before the job gives up. */
const outcomeWriteAttempts = 8;

/**
 * Batches of each kind (context reads, claims, outcomes) running at once: Postgres works on
 * some while the worker prepares the next, and the pool has connections to spare.
 */
const sendBatchesInFlight = 4;

/** The message status each settlement of a failed call writes. */
const failedCallStatus = { unknown: 'UNKNOWN', waiting: 'QUEUED', retrying: 'FAILED', dead: 'DEAD' } as const satisfies Record<FailedCall['to'], SendFailureStatus>;

export interface SendRouteDeps {
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
  campaigns: CampaignPauser;
  /** This process's send counters and adapter call durations. */
  metrics: Pick<WorkerMetrics, 'sends' | 'adapterCalls'>;
}

/** A send ready to claim: the request, what the claim stores with it, and the caps it takes. */
export interface PreparedSend {
  context: AddressedSendContext;
  adapter: ChannelAdapter;
  message: OutboundMessage;
  claim: SendClaim;
  scopes: CapScope[];
}

class CapFull extends Error {
  constructor(readonly scope: CapScope) {
    super(`cap ${scope.scope} full`);
  }
}

/**
 * How a message is delivered (the delivery pipeline runs the sequence): its send context read
 * in batches, its own gates, the LIVE adapter of its channel (or the PROOF ledger), a claim
 * QUEUED → SENDING with its cap units, the adapter call in one of the channel's LIVE call
 * slots, and the outcome through the message lifecycle with its enrollment effect. Context
 * reads, claims and outcome writes of concurrent jobs are batched.
 */
export class SendRoute implements DeliveryRoute<SendContextRow, ChannelAdapter, PreparedSend> {
  readonly names = { noun: 'message', verb: 'send' };
  private readonly contexts: Batcher<number, SendContextRow | undefined>;
  private readonly claims: Batcher<SendClaim, boolean>;
  private readonly deliveries: Batcher<Delivery, boolean>;
  private readonly slots = new Map<Channel, Semaphore>();
  private emailSecret: Promise<string> | undefined;

  constructor(private readonly deps: SendRouteDeps) {
    const { db, clock } = deps;
    this.contexts = new Batcher(async (ids) => {
      const byId = await loadSendContexts(db, ids);
      return ids.map((id) => byId.get(id));
    }, undefined, sendBatchesInFlight);
    this.claims = new Batcher(async (batch) => {
      const claimed = await claimForSending(db, batch, clock.now());
      // One row update claims a message once: if two jobs asked for the same message in one
      // batch, only the first gets it.
      return batch.map((claim) => claimed.delete(claim.id));
    }, undefined, sendBatchesInFlight);
    this.deliveries = new Batcher(async (batch) => {
      const recorded = await recordDeliveries(db, batch, clock.now());
      return batch.map((delivery) => recorded.has(delivery.id));
    }, undefined, sendBatchesInFlight);
  }

  read(messageId: number): Promise<SendContextRow | undefined> {
    return this.contexts.run(messageId);
  }

  facts(context: SendContextRow): DeliveryFacts {
    return sendFacts(context);
  }

  skip(context: SendContextRow, reason: string): Promise<DeliveryDecision> {
    return this.skipWith(context, reason, { kind: 'none' });
  }

  gate(context: SendContextRow, now: Date): DeliveryDecision | undefined | Promise<DeliveryDecision> {
    const answer = sendGate(context, now);
    return answer?.kind === 'skip' ? this.skipWith(context, answer.reason, answer.effect) : answer;
  }

  target(context: SendContextRow): ChannelAdapter | MissingTarget {
    const adapter = context.mode === 'PROOF' ? this.deps.proof : this.deps.liveAdapters[context.channel];
    return adapter ?? { missing: missingAdapterFailure(context.channel).reason };
  }

  /** LIVE email waits for its recipient domain's window; the unit it takes is spent. */
  async throttle(context: SendContextRow): Promise<Hold | undefined> {
    const { domainThrottle } = this.deps;
    if (domainThrottle === undefined || context.mode !== 'LIVE' || context.channel !== 'email') return undefined;
    const domain = context.recipient?.split('@')[1] ?? '';
    const until = await domainThrottle.take(domain);
    return until === undefined ? undefined : { kind: 'hold', until, reason: `recipient domain ${domain} throttled` };
  }

  async prepare(context: SendContextRow, adapter: ChannelAdapter, now: Date): Promise<PreparedSend> {
    // The address gate passed this same context; the check carries that to the compiler.
    if (!isAddressed(context)) throw new UnrecoverableError(`message ${context.id} has no recipient or body`);
    const { config } = this.deps;
    const claim: SendClaim = { id: context.id, providerMessageId: null, unsubscribeTokenHash: null };
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
    };
    let message: OutboundMessage;
    if (context.channel === 'email') {
      // Every email has its Message-ID and unsubscribe link, stored with the claim before the
      // send: an unsubscribe click or a reply may arrive as soon as it is out.
      const { tokenHash, ...extras } = emailIdentity(
        { secret: await this.emailIdentitySecret(), publicUrl: config.PUBLIC_URL, mailto: config.UNSUBSCRIBE_MAILTO },
        { idempotencyKey: context.idempotency_key, fromEmail: context.from_email, replyTo: context.reply_to },
      );
      claim.providerMessageId = extras.messageId;
      // A PROOF email never leaves: no link can be clicked, so its token is not stored (an
      // index entry per message saved); its Message-ID is, for the follow-ups it threads.
      claim.unsubscribeTokenHash = context.mode === 'LIVE' ? tokenHash : null;
      message = { ...fields, channel: 'email', email: extras, thread: { inReplyTo: context.in_reply_to, references: context.thread_references } };
    } else {
      message = { ...fields, channel: context.channel };
    }
    const scopes = capScopes(config, { id: context.campaign_id, dailyCap: context.daily_cap, timezone: context.timezone }, context.channel, now);
    return { context, adapter, message, claim, scopes };
  }

  /** A LIVE send takes one of its channel's call slots before its claim, so it waits QUEUED, not SENDING. */
  callSlots(context: SendContextRow): Semaphore | undefined {
    if (context.mode !== 'LIVE') return undefined;
    let slots = this.slots.get(context.channel);
    if (slots === undefined) {
      slots = new Semaphore(this.deps.config.LIVE_SEND_SLOTS);
      this.slots.set(context.channel, slots);
    }
    return slots;
  }

  /** Turns away the sends waiting for a LIVE call slot (they never claimed their message). */
  turnAwayWaiting(error: Error): void {
    for (const slots of this.slots.values()) slots.turnAway(error);
  }

  /** QUEUED → SENDING committed, with its cap units in the same transaction when caps apply. */
  async claim({ claim, scopes }: PreparedSend, now: Date): Promise<DeliveryDecision | undefined> {
    if (scopes.length === 0) return (await this.claims.run(claim)) ? undefined : lostClaim(now);
    const claimed = await this.claimWithCaps(claim, scopes);
    if (claimed.full !== undefined) return { kind: 'hold', until: claimed.full.resetsAt, reason: `daily cap ${claimed.full.scope} reached` };
    return claimed.claimed ? undefined : lostClaim(now);
  }

  async call({ adapter, message, context }: PreparedSend): Promise<SendResult> {
    if (context.mode !== 'LIVE') return adapter.send(message);
    const started = performance.now();
    try {
      return await adapter.send(message);
    } finally {
      this.deps.metrics.adapterCalls.observe({ channel: context.channel }, (performance.now() - started) / 1000);
    }
  }

  async settleDelivered({ context }: PreparedSend, result: SendResult): Promise<DeliveryResult> {
    const status = context.mode === 'PROOF' ? 'SENT_PROOF' : 'SENT';
    await this.recordDelivery({ id: context.id, status, provider: result.provider, externalId: result.externalId });
    this.deps.metrics.sends.inc({ channel: context.channel, mode: context.mode, outcome: 'sent' });
    return { kind: 'delivered', status, externalId: result.externalId };
  }

  async settleFailed({ context, scopes }: PreparedSend, failed: FailedCall): Promise<void> {
    const { db, clock } = this.deps;
    this.deps.metrics.sends.inc({ channel: context.channel, mode: context.mode, outcome: failed.to });
    // Only an unknown outcome keeps its cap units: the provider may have acted.
    if (failed.to !== 'unknown') await releaseCaps(db, scopes);
    const bounced = failed.to === 'dead' && failed.failure.kind === 'recipient' ? failed.failure : undefined;
    await settleFailedSend(db, {
      id: context.id,
      to: failedCallStatus[failed.to],
      now: clock.now(),
      error: failed.error,
      // A DEAD message keeps its enrollment waiting on it, so a retry from the dead-letter view can still send.
      effect: bounced === undefined ? { kind: 'none' } : { kind: 'end', state: 'BOUNCED', reason: bounced.reason },
      giveBackAttempt: failed.to === 'waiting' && failed.giveBackAttempt,
    });
    // Only an email address is suppressed: a platform refusing a DM says nothing about the address.
    if (bounced !== undefined && context.channel === 'email' && context.lead_email !== null) await suppress(db, context.lead_email, { reason: 'hard bounce' });
  }

  async pause(context: SendContextRow, reason: string): Promise<void> {
    await this.deps.campaigns.pauseForSenderFault({ channel: context.channel, campaignId: context.campaign_id, reason });
  }

  logFields(context: SendContextRow): Record<string, unknown> {
    return { messageId: context.id };
  }

  private skipWith(context: SendContextRow, reason: string, effect: EnrollmentEffect): Promise<DeliveryDecision> {
    // A DEAD message's job runs only when an operator retries it from Bull Board: it must not
    // end as a quiet success, so the message stays DEAD and the job fails saying why.
    if (context.status === 'DEAD') return Promise.reject(new UnrecoverableError(deadLetterRefusal(context, reason)));
    return skipMessage(this.deps.db, { id: context.id, reason, now: this.deps.clock.now(), effect }).then(
      (settled): DeliveryDecision => (settled ? { kind: 'skipped', reason } : { kind: 'not-deliverable', status: 'changed concurrently' }),
    );
  }

  /** The unsubscribe/Message-ID key, read once per process (a failed read is tried again next time). */
  private emailIdentitySecret(): Promise<string> {
    this.emailSecret ??= unsubscribeSecret(this.deps.config, this.deps.db).catch((error: unknown) => {
      this.emailSecret = undefined;
      throw error;
    });
    return this.emailSecret;
  }

  /** Claims one message with its cap units in one transaction; returns the full scope if any. */
  private async claimWithCaps(claim: SendClaim, scopes: CapScope[]): Promise<{ claimed: boolean; full?: CapScope }> {
    const { db, clock } = this.deps;
    return db
      .transaction(async (trx) => {
        const claimed = await claimForSending(trx, [claim], clock.now());
        if (!claimed.has(claim.id)) return { claimed: false };
        const full = await reserveCaps(trx, scopes);
        // Throwing rolls the claim back: the message stays QUEUED and takes no unit anywhere.
        if (full !== undefined) throw new CapFull(full);
        return { claimed: true };
      })
      .catch((error: unknown) => {
        if (error instanceof CapFull) return { claimed: false, full: error.scope };
        throw error;
      });
  }

  /**
   * Records a delivery the provider has accepted. The write is idempotent (SENDING → SENT), so a
   * database blip is retried here: failing the job instead would leave the message SENDING and,
   * once stale, UNKNOWN, although we know it was sent.
   */
  private async recordDelivery(delivery: Delivery): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.deliveries.run(delivery);
        return;
      } catch (error) {
        if (attempt >= outcomeWriteAttempts) throw error;
        this.deps.log.warn({ err: error, messageId: delivery.id, attempt }, 'recording a delivery failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  }
}

/**
 * The claim found the message no longer sendable, or a gate (pause, kill switch, suppression)
 * changed after the checks. Check again shortly: the next run sees which it was.
 */
function lostClaim(now: Date): Hold {
  return holdFrom(now, 'killSwitch', 'state changed while claiming');
}
