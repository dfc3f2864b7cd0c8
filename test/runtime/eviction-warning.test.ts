import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log/logger.js';
import { createAppContext } from '../../src/runtime/context.js';
import { warnOnEvictionPolicy } from '../../src/runtime/worker-runtime.js';
import { testConfig } from '../setup/hooks.js';
import { redisOf } from '../support/engine.js';

describe('Redis eviction policy at start-up', () => {
  it('warns loudly when maxmemory-policy is not noeviction, and not when it is', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const config = testConfig({ LOG_LEVEL: 'warn' });
    const ctx = createAppContext(config, createLogger(config, sink));
    const redis = redisOf(ctx);
    const original = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1] ?? 'noeviction';
    try {
      await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await warnOnEvictionPolicy(ctx);
      expect(lines.join('')).to.include('REDIS MAXMEMORY-POLICY IS \\"allkeys-lru\\", NOT \\"noeviction\\"');
      lines.length = 0;
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      await warnOnEvictionPolicy(ctx);
      expect(lines).to.deep.equal([]);
    } finally {
      await redis.config('SET', 'maxmemory-policy', original);
      await ctx.close();
    }
  });
});
