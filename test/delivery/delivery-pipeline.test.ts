import { expect } from 'chai';
import { UnrecoverableError } from 'bullmq';
import {
  AmbiguousSendError,
  CircuitOpenError,
  PermanentSendError,
  RateLimitedError,
  SenderFaultError,
  TransientSendError,
  type SendResult,
} from '../../src/channels/adapter.js';
import {
  DeliveryPipeline,
  WorkerStopping,
  type CallSlots,
  type CampaignGate,
  type DeliveryRoute,
  type DeliveryTarget,
  type FailedCall,
  type MissingTarget,
} from '../../src/delivery/delivery-pipeline.js';
import type { DeliveryDecision, DeliveryResult } from '../../src/delivery/delivery-decision.js';
import { createLogger } from '../../src/log/logger.js';
import { Semaphore } from '../../src/core/semaphore.js';
import { clockNow } from '../support/clock.js';
import { testConfig } from '../setup/hooks.js';

/** An item of a made-up kind of delivery, every gate open unless a test closes one. */
interface Parcel {
  id: number;
  status: string;
  killed: boolean;
  campaignStatus: string;
  campaignGate: CampaignGate;
  own?: DeliveryDecision;
  target: DeliveryTarget | MissingTarget;
  throttled?: DeliveryDecision;
  claimable: boolean;
  /** What the provider does with the call. */
  answer: () => Promise<SendResult>;
}

const open = (): Parcel => ({
  id: 7,
  status: 'WAITING',
  killed: false,
  campaignStatus: 'ACTIVE',
  campaignGate: 'deliver',
  target: { provider: 'courier' },
  claimable: true,
  answer: () => Promise.resolve({ provider: 'courier', externalId: 'x-7' }),
});

/** A route that delivers parcels from memory and records what the pipeline asked of it. */
class ParcelRoute implements DeliveryRoute<Parcel, DeliveryTarget, Parcel> {
  readonly names = { noun: 'parcel', verb: 'courier' };
  readonly seen = { skipped: [] as string[], paused: [] as string[], claimed: 0, called: 0, settled: [] as FailedCall[] };

  constructor(
    private readonly parcel: Parcel | undefined,
    private readonly slots?: CallSlots,
  ) {}

  read = () => Promise.resolve(this.parcel);
  facts = (parcel: Parcel) => ({ ...parcel, deliverable: parcel.status === 'WAITING' });
  skip = (_parcel: Parcel, reason: string): Promise<DeliveryDecision> => {
    this.seen.skipped.push(reason);
    return Promise.resolve({ kind: 'skipped', reason });
  };
  gate = (parcel: Parcel) => parcel.own;
  target = (parcel: Parcel) => parcel.target;
  throttle = (parcel: Parcel) => Promise.resolve(parcel.throttled);
  prepare = (parcel: Parcel) => parcel;
  callSlots = () => this.slots;
  claim = (parcel: Parcel): Promise<DeliveryDecision | undefined> => {
    this.seen.claimed += 1;
    return Promise.resolve(parcel.claimable ? undefined : { kind: 'not-deliverable', status: 'changed concurrently' });
  };
  call = (parcel: Parcel) => {
    this.seen.called += 1;
    return parcel.answer();
  };
  settleDelivered = (_parcel: Parcel, result: SendResult): Promise<DeliveryResult> => Promise.resolve({ kind: 'delivered', status: 'DELIVERED', externalId: result.externalId });
  settleFailed = (_parcel: Parcel, failed: FailedCall) => {
    this.seen.settled.push(failed);
    return Promise.resolve();
  };
  pause = (_parcel: Parcel, reason: string) => {
    this.seen.paused.push(reason);
    return Promise.resolve();
  };
  logFields = (parcel: Parcel) => ({ parcelId: parcel.id });
}

describe('the delivery pipeline', () => {
  const clock = clockNow();
  const log = createLogger(testConfig());
  const firstAttempt = { attemptsMade: 0, attempts: 3 };
  const after = (ms: number) => new Date(clock.now().getTime() + ms);

  function deliver(parcel: Parcel | undefined, attempt = firstAttempt, slots?: CallSlots) {
    const route = new ParcelRoute(parcel, slots);
    return { route, decision: new DeliveryPipeline(route, { clock, log }).deliver(7, attempt) };
  }

  it('delivers through gates, one claim and one call, and returns the route’s record of it', async () => {
    const { route, decision } = deliver(open());
    expect(await decision).to.deep.equal({ kind: 'delivered', status: 'DELIVERED', externalId: 'x-7' });
    expect(route.seen).to.deep.include({ claimed: 1, called: 1, settled: [] });
  });

  it('fails a job whose item does not exist as unrecoverable', async () => {
    await expect(deliver(undefined).decision).to.be.rejectedWith(UnrecoverableError, 'parcel 7 does not exist');
  });

  it('checks the gates cheapest and most final first, and claims nothing while one answers', async () => {
    const breakerRetry = after(30_000);
    const closed: Parcel = {
      ...open(),
      status: 'DONE',
      killed: true,
      campaignGate: 'skip',
      campaignStatus: 'COMPLETED',
      own: { kind: 'hold', until: after(60_000), reason: 'outside send window' },
      target: { missing: 'no LIVE courier adapter' },
      throttled: { kind: 'hold', until: after(90_000), reason: 'recipient domain throttled' },
    };
    // Open the gates one by one: each time the first gate still closed answers.
    const openings: Array<[Partial<Parcel>, DeliveryDecision, string[]]> = [
      [{}, { kind: 'not-deliverable', status: 'DONE' }, []],
      [{ status: 'WAITING' }, { kind: 'hold', until: after(10_000), reason: 'kill switch on' }, []],
      [{ killed: false }, { kind: 'skipped', reason: 'campaign completed' }, []],
      [{ campaignGate: 'hold', campaignStatus: 'PAUSED' }, { kind: 'hold', until: after(300_000), reason: 'campaign PAUSED' }, []],
      [{ campaignGate: 'deliver', campaignStatus: 'ACTIVE' }, { kind: 'hold', until: after(60_000), reason: 'outside send window' }, []],
      // No target is our configuration's fault: the account's campaigns pause.
      [{ own: undefined }, { kind: 'hold', until: after(300_000), reason: 'paused by drumbeat: no LIVE courier adapter' }, ['no LIVE courier adapter']],
      [{ target: { provider: 'courier', openUntil: () => breakerRetry } }, { kind: 'hold', until: breakerRetry, reason: 'courier circuit breaker open' }, []],
      [{ target: { provider: 'courier', openUntil: () => undefined } }, { kind: 'hold', until: after(90_000), reason: 'recipient domain throttled' }, []],
    ];
    let parcel = closed;
    for (const [opening, expected, paused] of openings) {
      parcel = { ...parcel, ...opening };
      const { route, decision } = deliver(parcel);
      expect(await decision, JSON.stringify(opening)).to.deep.equal(expected);
      expect(route.seen.paused).to.deep.equal(paused);
      expect(route.seen.claimed, 'no claim behind a closed gate').to.equal(0);
    }
  });

  it('a lost claim calls nothing', async () => {
    const { route, decision } = deliver({ ...open(), claimable: false });
    expect(await decision).to.deep.equal({ kind: 'not-deliverable', status: 'changed concurrently' });
    expect(route.seen.called).to.equal(0);
  });

  it('settles every kind of failed call by whose problem it was, the same for every route', async () => {
    const retryAt = after(45_000);
    const cases: Array<{ error: Error; attempt?: typeof firstAttempt; settled: FailedCall; outcome: DeliveryDecision | (new (message: string) => Error); paused?: string }> = [
      { error: new AmbiguousSendError('lost after DATA'), settled: { to: 'unknown', error: 'AmbiguousSendError: lost after DATA' }, outcome: { kind: 'unknown', reason: 'AmbiguousSendError: lost after DATA' } },
      {
        error: new CircuitOpenError('breaker open', retryAt),
        settled: { to: 'waiting', error: 'CircuitOpenError: breaker open', giveBackAttempt: false },
        outcome: { kind: 'hold', until: retryAt, reason: 'breaker open' },
      },
      {
        error: new RateLimitedError('429', 1500),
        settled: { to: 'waiting', error: 'RateLimitedError: 429', giveBackAttempt: false },
        outcome: { kind: 'rate-limited', retryAfterMs: 1500 },
      },
      {
        error: new SenderFaultError('535 authentication failed'),
        settled: { to: 'waiting', error: 'SenderFaultError: 535 authentication failed', giveBackAttempt: true },
        outcome: { kind: 'hold', until: after(300_000), reason: 'paused by drumbeat: 535 authentication failed' },
        paused: '535 authentication failed',
      },
      {
        error: new PermanentSendError('550 5.1.1 no such mailbox', true),
        settled: { to: 'dead', error: 'PermanentSendError: 550 5.1.1 no such mailbox', failure: { kind: 'recipient', reason: '550 5.1.1 no such mailbox' } },
        outcome: UnrecoverableError,
      },
      {
        error: new PermanentSendError('554 content refused'),
        settled: { to: 'dead', error: 'PermanentSendError: 554 content refused', failure: { kind: 'message', reason: '554 content refused' } },
        outcome: UnrecoverableError,
      },
      { error: new TransientSendError('451 try later'), settled: { to: 'retrying', error: 'TransientSendError: 451 try later' }, outcome: TransientSendError },
      {
        error: new TransientSendError('451 try later'),
        attempt: { attemptsMade: 2, attempts: 3 },
        settled: { to: 'dead', error: 'TransientSendError: 451 try later', failure: { kind: 'transient', reason: '451 try later' } },
        outcome: TransientSendError,
      },
    ];
    for (const { error, attempt, settled, outcome, paused } of cases) {
      const { route, decision } = deliver({ ...open(), answer: () => Promise.reject(error) }, attempt);
      if (typeof outcome === 'function') await expect(decision, error.message).to.be.rejectedWith(outcome);
      else expect(await decision, error.message).to.deep.equal(outcome);
      expect(route.seen.settled, error.message).to.deep.equal([settled]);
      expect(route.seen.paused, error.message).to.deep.equal(paused === undefined ? [] : [paused]);
    }
  });

  it('a delivery waiting for a call slot when its worker stops hands its job back unclaimed', async () => {
    const slots = new Semaphore(1);
    let answer: (result: SendResult) => void = () => undefined;
    const first = deliver({ ...open(), answer: () => new Promise((resolve) => (answer = resolve)) }, firstAttempt, slots);
    const waiting = deliver(open(), firstAttempt, slots);
    await new Promise((resolve) => setImmediate(resolve));
    slots.turnAway(new WorkerStopping());
    expect(await waiting.decision).to.deep.equal({ kind: 'hold', until: after(1_000), reason: 'worker stopping' });
    expect(waiting.route.seen.claimed, 'never claimed').to.equal(0);
    answer({ provider: 'courier', externalId: 'x-7' });
    expect((await first.decision).kind, 'the call in flight finishes').to.equal('delivered');
  });
});
