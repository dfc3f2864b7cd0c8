import { expect } from 'chai';
import { runDrumbeat } from '../support/engine.js';

describe('invalid configuration at start-up', function () {
  this.timeout(20_000);

  it('prints every problem at once and exits 1', async () => {
    const result = await runDrumbeat(['preflight'], { PORT: 'x', REDIS_URL: 'ftp://a', SEND_ATTEMPTS: '-1' });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('Invalid configuration');
    for (const name of ['PORT', 'REDIS_URL', 'SEND_ATTEMPTS']) expect(result.stderr).to.include(name);
  });
});
