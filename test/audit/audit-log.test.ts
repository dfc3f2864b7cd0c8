import { expect } from 'chai';
import { recordAudit } from '../../src/audit/audit-log.js';
import { resetDatabase, testDb } from '../setup/hooks.js';
import { clockNow } from '../support/clock.js';

describe('audit log', () => {
  beforeEach(resetDatabase);

  it('records who did what to which subject, through what, with the state before and after', async () => {
    const clock = clockNow();
    await recordAudit(
      testDb(),
      { actor: 'ada@example.com', via: 'page', action: 'campaign.pause', subjectType: 'campaign', subjectId: '7', before: { status: 'ACTIVE' }, after: { status: 'PAUSED' } },
      clock.now(),
    );
    const rows = (await testDb()('audit_log').select('*')) as Array<Record<string, unknown>>;
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ actor: 'ada@example.com', via: 'page', action: 'campaign.pause', subject_type: 'campaign', subject_id: '7' });
    expect(rows[0]?.before).to.deep.equal({ status: 'ACTIVE' });
    expect(rows[0]?.after).to.deep.equal({ status: 'PAUSED' });
    expect((rows[0]?.at as Date).toISOString()).to.equal(clock.anchor.toISOString());
  });

  it('stores no before or after when the change has none', async () => {
    await recordAudit(testDb(), { actor: 'cli:ada', via: 'cli', action: 'kill-switch.on', subjectType: 'kill-switch', subjectId: null }, clockNow().now());
    const row = (await testDb()('audit_log').first()) as Record<string, unknown>;
    expect(row).to.include({ before: null, after: null, subject_id: null });
  });

  it('refuses to change or delete an entry: the log is append-only', async () => {
    await recordAudit(testDb(), { actor: 'ada@example.com', via: 'api', action: 'sign-in', subjectType: 'operator', subjectId: '1' }, clockNow().now());
    await expect(testDb()('audit_log').update({ actor: 'someone-else' })).to.be.rejectedWith(/append-only: UPDATE refused/);
    await expect(testDb()('audit_log').delete()).to.be.rejectedWith(/append-only: DELETE refused/);
    expect(await testDb()('audit_log').where({ actor: 'ada@example.com' }).count({ n: '*' }).first()).to.deep.equal({ n: 1 });
  });

  it('refuses a via other than page, api or cli', async () => {
    await expect(
      testDb()('audit_log').insert({ at: clockNow().now(), actor: 'x', via: 'email', action: 'a', subject_type: 's' }),
    ).to.be.rejectedWith(/audit_log_via_check/);
  });
});
