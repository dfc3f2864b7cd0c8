import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { allQueues } from '../../queues/index.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { clockMinute, jobKey, redisKeys } from '../../src/redis/keys.js';
import { publishBreakerState } from '../../src/channels/resilience/breaker-states.js';
import { domainThrottle } from '../../src/channels/email/domain-throttle.js';
import { llmBudget } from '../../src/llm/llm-budget.js';
import { freshEngineWithClock, redisOf } from '../support/engine.js';

describe('Redis keys', function () {
  this.timeout(20_000);
  const engine = freshEngineWithClock();
  const { clock } = engine;
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  /** Every key of the run's prefix, found by the same pattern a cleanup uses. */
  async function keysUnderPrefix(): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redisOf(ctx).scan(cursor, 'MATCH', redisKeys.everyKey(ctx.config.QUEUE_PREFIX), 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    return found.sort();
  }

  it('builds every key under the queue prefix (one Cluster slot with a {hash-tag}), in no namespace a queue uses', () => {
    const keys = [
      redisKeys.breakerStates('{drumbeat}'),
      redisKeys.domainThrottle('{drumbeat}', 'Example.COM', 29_000_000),
      redisKeys.llmBudget('{drumbeat}', 29_000_000),
      redisKeys.formRate('{drumbeat}', '192.0.2.7', 29_000_000),
    ];
    expect(keys).to.deep.equal([
      '{drumbeat}:breakers',
      '{drumbeat}:throttle:domain:example.com:29000000',
      '{drumbeat}:llm:budget:29000000',
      '{drumbeat}:form-rate:192.0.2.7:29000000',
    ]);
    const queueNames = new Set(allQueues.map((queue) => queue.name));
    for (const key of keys) expect(queueNames.has(key.split(':')[1] ?? ''), key).to.equal(false);
  });

  it('the breaker states, domain throttle and LLM budget write exactly the keys the module names', async () => {
    const prefix = ctx.config.QUEUE_PREFIX;
    await publishBreakerState(redisOf(ctx), prefix, { name: 'smtp:default', state: 'open', since: clock.now().toISOString() });
    expect(await domainThrottle(redisOf(ctx), prefix, 5, clock).take('Example.COM')).to.equal(undefined);
    expect(await llmBudget(redisOf(ctx), prefix, { rpm: 10, tpm: 1000 }, clock).reserve(100)).to.not.equal(undefined);
    const minute = clockMinute(clock.now());
    expect(await keysUnderPrefix()).to.deep.equal(
      [redisKeys.breakerStates(prefix), redisKeys.domainThrottle(prefix, 'example.com', minute), redisKeys.llmBudget(prefix, minute)].sort(),
    );
  });

  it('jobKey names the hash BullMQ keeps a job in: a pipelined EXISTS finds a job that is there, not one that was removed', async () => {
    const queue = ctx.queues.get(sendEmailQueue);
    await ctx.queues.addMany(sendEmailQueue, [
      { data: { messageId: 1 }, opts: { jobId: 'c1-l1-s0', delay: 60_000 } },
      { data: { messageId: 2 }, opts: { jobId: 'c1-l2-s0', delay: 60_000 } },
    ]);
    await queue.remove('c1-l2-s0');
    const replies = await redisOf(ctx).pipeline().exists(jobKey(queue, 'c1-l1-s0')).exists(jobKey(queue, 'c1-l2-s0')).exec();
    expect(replies?.map(([, exists]) => exists)).to.deep.equal([1, 0]);
  });
});
