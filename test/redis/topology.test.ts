import { expect } from 'chai';
import { ConfigError, configSecrets, loadConfig } from '../../src/config/config.js';
import { redisTopology } from '../../src/redis/topology.js';
import { runDrumbeat } from '../support/engine.js';

/** The problems a config raises, one sentence each (none: it loads). */
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('Redis topology settings', () => {
  it('is one server by default, a cluster with REDIS_CLUSTER_NODES, a Sentinel set with REDIS_SENTINELS + REDIS_SENTINEL_NAME', () => {
    expect(redisTopology(loadConfig({}))).to.deep.equal({ kind: 'single', url: 'redis://127.0.0.1:6379', access: { tls: false } });
    expect(redisTopology(loadConfig({ REDIS_URL: 'rediss://cache.example:6380' })).access, 'rediss:// means TLS').to.deep.equal({ tls: true });
    expect(
      redisTopology(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b.internal:7001,[::1]:7002', QUEUE_PREFIX: '{drumbeat}', REDIS_PASSWORD: 'cluster-pass', REDIS_TLS: 'true' })),
    ).to.deep.equal({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b.internal', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      access: { password: 'cluster-pass', tls: true },
    });
    expect(
      redisTopology(loadConfig({ REDIS_SENTINELS: '10.0.0.5:26379,10.0.0.6:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_USERNAME: 'drumbeat', REDIS_PASSWORD: 'p', REDIS_SENTINEL_PASSWORD: 'sp' })),
    ).to.deep.equal({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.5', port: 26379 },
        { host: '10.0.0.6', port: 26379 },
      ],
      name: 'mymaster',
      sentinelPassword: 'sp',
      access: { username: 'drumbeat', password: 'p', tls: false },
    });
  });

  it('accepts a cluster prefix whose hash tag is anywhere in it, and refuses one without a non-empty tag', () => {
    for (const prefix of ['{drumbeat}', 'acme{drumbeat}', '{d}x']) expect(problems({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: prefix }), prefix).to.deep.equal([]);
    for (const prefix of ['drumbeat', '{}drumbeat', 'drumbeat}{']) {
      expect(problems({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: prefix }), prefix).to.deep.equal([
        "QUEUE_PREFIX: a Redis Cluster needs a {hash-tag} in the prefix so each queue's keys share one slot; use e.g. {drumbeat}.",
      ]);
    }
  });

  it('refuses more than one topology, a Sentinel set without its master name, a name without Sentinels and a bad address list, one sentence each', () => {
    expect(problems({ REDIS_URL: 'redis://10.0.0.1:6379', REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_NAME: 'm', QUEUE_PREFIX: '{d}' })).to.deep.equal([
      'REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS: set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS.',
    ]);
    expect(problems({ REDIS_SENTINELS: '10.0.0.1:26379' })).to.deep.equal(['REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master name the Sentinels monitor).']);
    expect(problems({ REDIS_SENTINEL_NAME: 'mymaster' })).to.deep.equal(['REDIS_SENTINEL_NAME: only used with REDIS_SENTINELS, which is not set.']);
    for (const nodes of ['10.0.0.1', '10.0.0.1:7000,10.0.0.2', 'redis://10.0.0.1:7000', '10.0.0.1:99999', ',']) {
      expect(problems({ REDIS_CLUSTER_NODES: nodes, QUEUE_PREFIX: '{d}' }), nodes).to.deep.equal([
        'REDIS_CLUSTER_NODES: a comma-separated list of host:port addresses, such as 10.0.0.1:7000,10.0.0.2:7000',
      ]);
    }
  });

  it('keeps the Redis passwords out of logs', () => {
    const config = loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_PASSWORD: 'redis-pass-123', REDIS_SENTINEL_PASSWORD: 'sentinel-pass-456' });
    expect(configSecrets(config)).to.include.members(['redis-pass-123', 'sentinel-pass-456']);
  });

  describe('typed at the command line', function () {
    this.timeout(30_000);

    it('REDIS_CLUSTER_NODES beside REDIS_URL: one sentence and exit 1, nothing started', async () => {
      const result = await runDrumbeat(['demo'], { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001', QUEUE_PREFIX: '{drumbeat}' });
      expect(result.code).to.equal(1);
      expect(result.stdout).to.equal('');
      expect(result.stderr).to.equal(
        'Invalid configuration:\n  - REDIS_URL, REDIS_CLUSTER_NODES: set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS.\n',
      );
    });

    it('a cluster with the default prefix: one sentence naming the fix, exit 1', async () => {
      const result = await runDrumbeat(['worker'], { REDIS_URL: '', REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: 'drumbeat' });
      expect(result.code).to.equal(1);
      expect(result.stderr).to.equal(
        "Invalid configuration:\n  - QUEUE_PREFIX: a Redis Cluster needs a {hash-tag} in the prefix so each queue's keys share one slot; use e.g. {drumbeat}.\n",
      );
    });
  });
});
