import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { addOperator } from '../../src/operators/operator-service.js';
import {
  createApiToken,
  revokeApiToken,
  UnknownOperatorError,
  verifyApiToken,
} from '../../src/operators/api-token-service.js';
import { resetDatabase, testDb } from '../setup/hooks.js';
import { clockNow } from '../support/clock.js';

interface TokenRow {
  name: string;
  token_hash: string;
  operator_id: number | null;
  last_used_at: Date | null;
}

async function tokenRow(id: number): Promise<TokenRow> {
  return (await testDb()('api_tokens').where({ id }).first()) as TokenRow;
}

describe('api token service', () => {
  beforeEach(resetDatabase);

  it('returns a dbt_ token once and stores only its SHA-256', async () => {
    const created = await createApiToken(testDb(), ' ci deploys ');
    expect(created.token).to.match(/^dbt_[A-Za-z0-9_-]{43}$/);
    expect(created.name).to.equal('ci deploys');
    const row = await tokenRow(created.id);
    expect(row.token_hash).to.equal(createHash('sha256').update(created.token).digest('hex'));
    expect(JSON.stringify(row)).not.to.include(created.token.slice(4));
  });

  it('verifies a good token and refuses an unknown or malformed one', async () => {
    const created = await createApiToken(testDb(), 'ci');
    expect((await verifyApiToken(testDb(), created.token))?.id).to.equal(created.id);
    const unknown = `dbt_${'A'.repeat(43)}`;
    expect(await verifyApiToken(testDb(), unknown)).to.equal(undefined);
    expect(await verifyApiToken(testDb(), created.token.slice(4))).to.equal(undefined);
    expect(await verifyApiToken(testDb(), `${created.token}x`)).to.equal(undefined);
    expect(await verifyApiToken(testDb(), '')).to.equal(undefined);
  });

  it('refuses a revoked token', async () => {
    const created = await createApiToken(testDb(), 'ci');
    expect(await revokeApiToken(testDb(), created.id)).to.equal(true);
    expect(await revokeApiToken(testDb(), created.id), 'already revoked').to.equal(false);
    expect(await verifyApiToken(testDb(), created.token)).to.equal(undefined);
  });

  it('links a token to an operator by email and refuses it once the operator is disabled', async () => {
    const operator = await addOperator(testDb(), 'ada@example.com', 'a long enough passphrase');
    const created = await createApiToken(testDb(), 'ada laptop', 'ADA@example.com');
    expect((await tokenRow(created.id)).operator_id).to.equal(operator.id);
    expect(await verifyApiToken(testDb(), created.token)).not.to.equal(undefined);
    await testDb()('operators').where({ id: operator.id }).update({ disabled_at: new Date() });
    expect(await verifyApiToken(testDb(), created.token)).to.equal(undefined);
  });

  it('refuses to create a token for an unknown operator or with an empty name', async () => {
    await expect(createApiToken(testDb(), 'ci', 'nobody@example.com')).to.be.rejectedWith(UnknownOperatorError);
    await expect(createApiToken(testDb(), '   ')).to.be.rejectedWith(/a name is required/);
    expect(await testDb()('api_tokens').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('records last_used_at at most once a minute', async () => {
    const clock = clockNow();
    const created = await createApiToken(testDb(), 'ci', undefined, clock);
    expect((await tokenRow(created.id)).last_used_at).to.equal(null);

    await verifyApiToken(testDb(), created.token, clock);
    expect((await tokenRow(created.id)).last_used_at?.toISOString()).to.equal(clock.anchor.toISOString());

    clock.advance(59_000);
    await verifyApiToken(testDb(), created.token, clock);
    expect((await tokenRow(created.id)).last_used_at?.toISOString()).to.equal(clock.anchor.toISOString());

    clock.advance(2_000);
    const verified = await verifyApiToken(testDb(), created.token, clock);
    expect(verified?.lastUsedAt?.toISOString()).to.equal(clock.after(61_000).toISOString());
    expect((await tokenRow(created.id)).last_used_at?.toISOString()).to.equal(clock.after(61_000).toISOString());
  });
});
