import { expect } from 'chai';
import { hashPassword, verifyPassword } from '../../src/operators/password.js';

describe('password hashing', () => {
  const password = 'correct horse battery staple';

  it('stores a salted, self-describing scrypt hash, never the password itself', async () => {
    const first = await hashPassword(password);
    const second = await hashPassword(password);
    expect(first).to.match(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(first).not.to.include(password);
    expect(first, 'a fresh salt each time').not.to.equal(second);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hashPassword(password);
    expect(await verifyPassword(password, hash)).to.equal(true);
    expect(await verifyPassword('correct horse battery stapler', hash)).to.equal(false);
    expect(await verifyPassword('', hash)).to.equal(false);
  });

  it('never matches a malformed, tampered or absurdly expensive hash', async () => {
    const hash = await hashPassword(password);
    const parts = hash.split('$');
    const digest = Buffer.from(parts[5] ?? '', 'base64');
    digest[0] = (digest[0] ?? 0) ^ 1;
    const tampered = [...parts.slice(0, 5), digest.toString('base64').replace(/=+$/, '')].join('$');
    expect(await verifyPassword(password, tampered)).to.equal(false);
    expect(await verifyPassword(password, 'not a hash')).to.equal(false);
    expect(await verifyPassword(password, password)).to.equal(false);
    expect(await verifyPassword(password, hash.replace('ln=15', 'ln=40'))).to.equal(false);
  });
});
