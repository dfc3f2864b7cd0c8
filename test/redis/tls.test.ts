import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPreflight } from '../../src/preflight/preflight.js';
import { testConfig, testDb, testRun } from '../setup/hooks.js';
import { runDrumbeat } from '../support/engine.js';
import { makeTestCertificates, startRedisCluster, type PrivateRedisCluster, type TestCertificates } from '../support/redis-topology.js';

describe('REDIS_TLS: a private three-node cluster that speaks only TLS', function () {
  this.timeout(60_000);
  const prefix = `{${testRun.queuePrefix}tls}`;
  let dir: string;
  let certificates: TestCertificates;
  let cluster: PrivateRedisCluster | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drumbeat-tls-'));
    certificates = await makeTestCertificates(dir);
    cluster = await startRedisCluster({ tls: certificates });
  });

  after(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs `drumbeat demo` to completion over TLS when the CA is trusted', async () => {
    const result = await runDrumbeat(['demo', '--leads', '5'], {
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: cluster?.nodes ?? '',
      QUEUE_PREFIX: prefix,
      REDIS_TLS: 'true',
      // The private CA, trusted the way an operator trusts their own: Node's extra CA file.
      NODE_EXTRA_CA_CERTS: certificates.ca,
    });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.include('status COMPLETED').and.include('| sentProof | 15 |');
    await cluster?.deleteKeys(`${prefix}:*`);
  });

  it('says why a TLS connection failed: a certificate this process does not trust, or no TLS at all', async () => {
    const [firstNode] = (cluster?.nodes ?? '').split(',');
    const untrusted = await runPreflight(testConfig({ REDIS_URL: `redis://${firstNode}`, REDIS_TLS: 'true' }), testDb());
    expect(untrusted.checks.find((check) => check.name === 'redis')?.message).to.equal(
      `Redis at redis://${firstNode} is not reachable (self-signed certificate in certificate chain); start Redis or fix REDIS_URL.`,
    );
    const plain = await runPreflight(testConfig({ REDIS_URL: `redis://${firstNode}` }), testDb());
    expect(plain.checks.find((check) => check.name === 'redis')?.ok).to.equal(false);
  });
});
