import { UnrecoverableError } from 'bullmq';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { AttemptInfo } from '../jobs/job-decision.js';
import type { SendResult } from '../channels/adapter.js';
import { classifyDeliveryFailure, type DeliveryFailure } from '../channels/delivery-failure.js';
import { holdFrom, type DeliveryDecision, type DeliveryResult } from './delivery-decision.js';

/** What a campaign's status means for a delivery now: go on, wait (paused), or skip it (ended). */
export type CampaignGate = 'deliver' | 'hold' | 'skip';

/** What the pipeline's own gates read of an item, before the route's gates. */
export interface DeliveryFacts {
  /** The item's status, and whether a delivery may claim it from there. */
  status: string;
  deliverable: boolean;
  killed: boolean;
  campaignStatus: string;
  campaignGate: CampaignGate;
}

/** What a delivery is made through: an adapter or publisher, behind its breaker (or the PROOF stand-in). */
export interface DeliveryTarget {
  readonly provider: string;
  /** When the target's breaker is open: the time of its half-open trial. */
  openUntil?(): Date | undefined;
}

/** A LIVE delivery on a channel with no adapter or publisher configured: why (our configuration's fault). */
export interface MissingTarget {
  missing: string;
}

/**
 * Where a call that failed leaves its item (the route writes it; the pipeline decides it from
 * the classified failure):
 * - `unknown`: the provider may have acted, so it is kept as it is (a cap unit stays taken);
 * - `waiting`: nothing was delivered: back to waiting for its job (QUEUED, SCHEDULED), with the
 *   claim's attempt given back when the fault was the sender's;
 * - `retrying`: a transient failure that BullMQ retries (FAILED);
 * - `dead`: failed for good, with the failure that says whose problem it was (DEAD).
 */
export type FailedCall =
  | { to: 'unknown'; error: string }
  | { to: 'waiting'; error: string; giveBackAttempt: boolean }
  | { to: 'retrying'; error: string }
  | { to: 'dead'; error: string; failure: DeliveryFailure };

/** Places for calls in flight; waiters may be turned away with {@link WorkerStopping}. */
export interface CallSlots {
  use<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * What differs between the deliveries of one kind (messages, posts): how to read an item, its
 * own gates, its target, how to claim it, what to call and how to record each outcome. Every
 * method is small; the sequence and the reaction to each outcome belong to the pipeline.
 */
export interface DeliveryRoute<Item, Target extends DeliveryTarget, Prepared> {
  /** What is delivered and the verb, for errors and logs: `message`/`send`, `post`/`publish`. */
  readonly names: { noun: string; verb: string };
  /** Reads one item with everything its gates need (batched by the route where it is hot). */
  read(id: number): Promise<Item | undefined>;
  /** The fields the shared gates read: status, kill switch, campaign. */
  facts(item: Item): DeliveryFacts;
  /** Ends the item without a delivery (its campaign is over), recording the reason. */
  skip(item: Item, reason: string): Promise<DeliveryDecision>;
  /** The item's own gates (lead, suppression, window; a post's schedule): a decision stops it. */
  gate(item: Item, now: Date): DeliveryDecision | undefined | Promise<DeliveryDecision | undefined>;
  /** What to call: the LIVE adapter or publisher, the PROOF stand-in, or why there is none. */
  target(item: Item): Target | MissingTarget;
  /** A last wait once the target is up (the recipient domain's throttle); takes a unit when it passes. */
  throttle?(item: Item, now: Date): Promise<DeliveryDecision | undefined>;
  /** Builds the request and whatever the claim stores with it. */
  prepare(item: Item, target: Target, now: Date): Prepared | Promise<Prepared>;
  /** The places a call must hold while claimed and in flight (LIVE sends), if any. */
  callSlots?(item: Item): CallSlots | undefined;
  /** The committed compare-and-set to in-flight: undefined when claimed, else what to do instead. */
  claim(prepared: Prepared, now: Date): Promise<DeliveryDecision | undefined>;
  /** The provider call. */
  call(prepared: Prepared): Promise<SendResult>;
  /** Records a delivery the provider accepted. */
  settleDelivered(prepared: Prepared, result: SendResult): Promise<DeliveryResult>;
  /** Records where a failed call leaves the item. */
  settleFailed(prepared: Prepared, failed: FailedCall): Promise<void>;
  /** Pauses what sends through the item's account (a fault that is not the item's). */
  pause(item: Item, reason: string): Promise<void>;
  /** The item's id as logs name it (`{ messageId }`, `{ postId }`). */
  logFields(item: Item): Record<string, unknown>;
}

/** Given to deliveries still waiting for a call slot when their worker stops: they hand their job back. */
export class WorkerStopping extends Error {
  constructor() {
    super('worker stopping');
  }
}

export interface DeliveryPipelineDeps {
  clock: Clock;
  log: Logger;
}

type Gated<Target> = { decision: DeliveryDecision } | { target: Target };
type Called = { decision: DeliveryDecision } | { result: SendResult } | { error: unknown };

const stop = (decision: DeliveryDecision): { decision: DeliveryDecision } => ({ decision });

/**
 * The one delivery pipeline of sends and posts: gates → prepare → claim → deliver → settle.
 * Gates, cheapest and most final first (status, kill switch, campaign, the route's own, the
 * target, its throttle); temporary ones hold the item waiting. The claim is a committed
 * compare-and-set before the call, so a job that runs twice never delivers twice. The call's
 * timeout is enforced by the target's guard (its breaker, `channels/resilience`), not here.
 * Each failure is classified once (`classifyDeliveryFailure`) and settled by whose problem it
 * was; the route only writes the state each outcome leads to.
 */
export class DeliveryPipeline<Item, Target extends DeliveryTarget, Prepared> {
  constructor(
    private readonly route: DeliveryRoute<Item, Target, Prepared>,
    private readonly deps: DeliveryPipelineDeps,
  ) {}

  /** Delivers one item if every gate allows it now, and records the outcome. */
  async deliver(id: number, attempt: AttemptInfo): Promise<DeliveryDecision> {
    const item = await this.route.read(id);
    if (item === undefined) throw new UnrecoverableError(`${this.route.names.noun} ${id} does not exist`);
    const now = this.deps.clock.now();
    const gated = await this.passGates(item, now);
    if ('decision' in gated) return gated.decision;
    const prepared = await this.route.prepare(item, gated.target, now);
    const called = await this.claimAndCall(item, prepared, now);
    if ('decision' in called) return called.decision;
    if ('error' in called) return this.settleFailure(item, prepared, called.error, attempt);
    return this.route.settleDelivered(prepared, called.result);
  }

  private async passGates(item: Item, now: Date): Promise<Gated<Target>> {
    const { route } = this;
    const facts = route.facts(item);
    if (!facts.deliverable) return stop({ kind: 'not-deliverable', status: facts.status });
    if (facts.killed) return stop(holdFrom(now, 'killSwitch', 'kill switch on'));
    if (facts.campaignGate === 'skip') return stop(await route.skip(item, `campaign ${facts.campaignStatus.toLowerCase()}`));
    if (facts.campaignGate === 'hold') return stop(holdFrom(now, 'paused', `campaign ${facts.campaignStatus}`));
    const own = await route.gate(item, now);
    if (own !== undefined) return stop(own);
    const target = route.target(item);
    // Our configuration's fault, not the item's: it stays as it is (it was never claimed).
    if ('missing' in target) return stop(await this.pauseOnSenderFault(item, target.missing));
    // An open breaker or a full throttle delays the job; no attempt is spent.
    const openUntil = target.openUntil?.();
    if (openUntil !== undefined) return stop({ kind: 'hold', until: openUntil, reason: `${target.provider} circuit breaker open` });
    const throttled = await route.throttle?.(item, now);
    return throttled === undefined ? { target } : stop(throttled);
  }

  /** Claims, then calls; a route with call slots does both holding one, so its waiters stay unclaimed. */
  private async claimAndCall(item: Item, prepared: Prepared, now: Date): Promise<Called> {
    const run = async (): Promise<Called> => {
      const instead = await this.route.claim(prepared, now);
      if (instead !== undefined) return stop(instead);
      try {
        return { result: await this.route.call(prepared) };
      } catch (error) {
        return { error };
      }
    };
    const slots = this.route.callSlots?.(item);
    try {
      return slots === undefined ? await run() : await slots.use(run);
    } catch (error) {
      // Still unclaimed: the job goes back to Redis (delayed, no attempt spent) for another run.
      if (error instanceof WorkerStopping) return stop(holdFrom(now, 'workerStopping', error.message));
      throw error;
    }
  }

  /**
   * A fault of the sender, account, relay, token or our config: nothing about this item. What
   * sends through the account pauses with the reason; this job waits (delayed, no attempt spent)
   * and runs once more when its campaign is resumed.
   */
  private async pauseOnSenderFault(item: Item, reason: string): Promise<DeliveryDecision> {
    await this.route.pause(item, reason);
    return holdFrom(this.deps.clock.now(), 'paused', `paused by drumbeat: ${reason}`);
  }

  /** Settles a failed call by whose problem it was (see `classifyDeliveryFailure`). */
  private async settleFailure(item: Item, prepared: Prepared, error: unknown, attempt: AttemptInfo): Promise<DeliveryDecision> {
    const { route, deps } = this;
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const failure = classifyDeliveryFailure(error);
    const logged = { ...route.logFields(item), err: error };
    switch (failure.kind) {
      case 'ambiguous':
        // The provider may have acted: never retried on our own; an operator checks.
        await route.settleFailed(prepared, { to: 'unknown', error: text });
        deps.log.error(logged, `${route.names.verb} outcome unknown; an operator must resolve it`);
        return { kind: 'unknown', reason: text };
      case 'breaker-open':
        // The breaker opened between the check and the call: nothing was sent.
        await route.settleFailed(prepared, { to: 'waiting', error: text, giveBackAttempt: false });
        return { kind: 'hold', until: failure.retryAt, reason: failure.reason };
      case 'rate-limited':
        await route.settleFailed(prepared, { to: 'waiting', error: text, giveBackAttempt: false });
        return { kind: 'rate-limited', retryAfterMs: failure.retryAfterMs };
      case 'sender':
        await route.settleFailed(prepared, { to: 'waiting', error: text, giveBackAttempt: true });
        return this.pauseOnSenderFault(item, failure.reason);
      case 'recipient':
      case 'message':
        await route.settleFailed(prepared, { to: 'dead', error: text, failure });
        deps.log.error(logged, `${route.names.verb} failed permanently`);
        throw new UnrecoverableError(text);
      case 'transient': {
        const finalAttempt = attempt.attemptsMade + 1 >= attempt.attempts;
        await route.settleFailed(prepared, finalAttempt ? { to: 'dead', error: text, failure } : { to: 'retrying', error: text });
        if (finalAttempt) deps.log.error(logged, `${route.names.verb} failed after every attempt`);
        throw error instanceof Error ? error : new Error(text);
      }
    }
  }
}
