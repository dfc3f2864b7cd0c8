import { expect } from 'chai';
import { verifyPassword } from '../../src/operators/password.js';
import { addOperator, authenticate, InvalidOperatorError, OperatorExistsError } from '../../src/operators/operator-service.js';
import { resetDatabase, testDb } from '../setup/hooks.js';
import { clockNow } from '../support/clock.js';

describe('operator service', () => {
  const password = 'a long enough passphrase';

  beforeEach(resetDatabase);

  it('adds an operator with a trimmed, lower-cased email and only a hash of the password', async () => {
    const operator = await addOperator(testDb(), '  Ada@Example.COM ', password);
    expect(operator.email).to.equal('ada@example.com');
    const row = (await testDb()('operators').where({ id: operator.id }).first()) as { email: string; password_hash: string };
    expect(row.email).to.equal('ada@example.com');
    expect(row.password_hash).not.to.include(password);
    expect(await verifyPassword(password, row.password_hash)).to.equal(true);
  });

  it('refuses a password shorter than 12 characters without echoing it', async () => {
    const error = await addOperator(testDb(), 'ada@example.com', 'short-pw-11').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(InvalidOperatorError);
    expect((error as Error).message).to.include('at least 12 characters').and.not.include('short-pw-11');
    expect(await testDb()('operators').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('refuses a malformed email', async () => {
    await expect(addOperator(testDb(), 'not-an-email', password)).to.be.rejectedWith(InvalidOperatorError, /email/);
  });

  it('refuses a second operator with the same email, whatever its case', async () => {
    await addOperator(testDb(), 'ada@example.com', password);
    await expect(addOperator(testDb(), 'ADA@example.com', 'another long passphrase')).to.be.rejectedWith(
      OperatorExistsError,
      'an operator with email ada@example.com already exists',
    );
  });

  it('authenticates the right password, whatever the email case, and records the sign-in time', async () => {
    const clock = clockNow();
    const added = await addOperator(testDb(), 'ada@example.com', password);
    const operator = await authenticate(testDb(), ' ADA@example.com', password, clock);
    expect(operator?.id).to.equal(added.id);
    expect(operator?.lastLoginAt?.toISOString()).to.equal(clock.anchor.toISOString());
    const row = (await testDb()('operators').where({ id: added.id }).first()) as { last_login_at: Date };
    expect(row.last_login_at.toISOString()).to.equal(clock.anchor.toISOString());
  });

  it('refuses a wrong password, an unknown email and a disabled operator', async () => {
    const added = await addOperator(testDb(), 'ada@example.com', password);
    expect(await authenticate(testDb(), 'ada@example.com', 'the wrong passphrase')).to.equal(undefined);
    expect(await authenticate(testDb(), 'nobody@example.com', password)).to.equal(undefined);
    await testDb()('operators').where({ id: added.id }).update({ disabled_at: new Date() });
    expect(await authenticate(testDb(), 'ada@example.com', password)).to.equal(undefined);
  });

  it('spends a password verification on an unknown email too, so timing does not reveal who exists', async () => {
    await addOperator(testDb(), 'ada@example.com', password);
    await authenticate(testDb(), 'nobody@example.com', password); // prepares the decoy hash
    const time = async (email: string) => {
      const started = process.hrtime.bigint();
      await authenticate(testDb(), email, 'the wrong passphrase');
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const median = (values: number[]) => values.sort((a, b) => a - b)[1] ?? 0;
    const wrongPassword = median([await time('ada@example.com'), await time('ada@example.com'), await time('ada@example.com')]);
    const unknownEmail = median([await time('nobody@example.com'), await time('nobody@example.com'), await time('nobody@example.com')]);
    // Without the decoy an unknown email costs one indexed query (about a millisecond), not a scrypt run.
    expect(unknownEmail).to.be.greaterThan(wrongPassword / 2);
  });
});
