import { tmpdir, userInfo } from 'node:os';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { identityHash } from '../../src/core/identity.js';
import type { RunningApp } from '../http/http-harness.js';
import { signIn } from '../http/http-harness.js';
import { freshEngineWithClock, makeLeads, runDrumbeat, seedCampaign } from '../support/engine.js';
import { bearerFor, callJson, operatorPassword, startApiApp } from '../security/security-support.js';

interface AuditRow {
  actor: string;
  via: string;
  action: string;
  subject_type: string;
  subject_id: string | null;
  before: unknown;
  after: unknown;
}

async function auditRows(ctx: AppContext): Promise<AuditRow[]> {
  return (await ctx.db('audit_log').orderBy('id').select('actor', 'via', 'action', 'subject_type', 'subject_id', 'before', 'after')) as AuditRow[];
}

describe('audit trail of the admin API and the CLI', function () {
  this.timeout(60_000);
  const engine = freshEngineWithClock();
  let ctx: AppContext;
  let app: RunningApp;

  beforeEach(async () => {
    ctx = engine.ctx;
    app = await startApiApp(ctx);
  });
  afterEach(() => app.close());

  it('records each API change with the token owner as actor, via api, and the state before and after', async () => {
    const { campaignId } = await seedCampaign(ctx, { spec: { requireReview: true }, leads: makeLeads(2) });
    await ctx.ticks.runTick(campaignId, engine.clock.now());
    const [first, second] = (await ctx.reviews.list({ campaignId })).map((message) => message.id) as [number, number];
    const admin = await bearerFor(ctx, 'admin');

    expect((await callJson(app, 'POST', `/api/review/${first}/approve`, admin.authorization, { note: 'fine' })).status).to.equal(200);
    expect((await callJson(app, 'POST', `/api/review/${second}/reject`, admin.authorization, { reason: 'tone' })).status).to.equal(200);
    expect((await callJson(app, 'POST', `/api/campaigns/${campaignId}/pause`, admin.authorization)).status).to.equal(200);
    expect((await callJson(app, 'PUT', '/api/kill-switch', admin.authorization, { on: true })).status).to.equal(200);
    expect((await callJson(app, 'POST', '/api/suppressions', admin.authorization, { target: "O'Brien@Example.com", reason: 'asked' })).status).to.equal(201);
    expect((await callJson(app, 'POST', '/api/suppressions', admin.authorization, { target: '@at-and-t.example' })).status).to.equal(201);
    expect((await callJson(app, 'DELETE', '/api/suppressions', admin.authorization, { target: '@at-and-t.example' })).status).to.equal(200);
    const added = await callJson(app, 'POST', '/api/operators', admin.authorization, { email: 'zoe.oconnor@example.com', password: operatorPassword, role: 'viewer' });
    expect(added.status).to.equal(201);
    const operatorId = (added.json.operator as { id: number }).id;
    expect((await callJson(app, 'POST', `/api/operators/${operatorId}/disable`, admin.authorization)).status).to.equal(200);
    const token = await callJson(app, 'POST', '/api/tokens', admin.authorization, { name: 'ci', expires: '30d' });
    expect(token.status).to.equal(201);
    expect((await callJson(app, 'DELETE', `/api/tokens/${String(token.json.id)}`, admin.authorization)).status).to.equal(200);
    // A refused change is not a change: nothing is recorded for it.
    expect((await callJson(app, 'POST', `/api/campaigns/${campaignId}/start`, admin.authorization)).status).to.equal(409);

    const rows = await auditRows(ctx);
    expect(rows.map((row) => row.action)).to.deep.equal([
      'message.approve',
      'message.reject',
      'campaign.pause',
      'kill-switch.on',
      'suppression.add',
      'suppression.add',
      'suppression.remove',
      'operator.add',
      'operator.disable',
      'token.create',
      'token.revoke',
    ]);
    for (const row of rows) expect(row, row.action).to.include({ actor: 'admin@example.com', via: 'api' });
    expect(rows[0]).to.deep.include({ subject_type: 'message', subject_id: String(first), before: { status: 'PENDING_REVIEW' }, after: { status: 'QUEUED', note: 'fine' } });
    expect(rows[1]).to.deep.include({ subject_id: String(second), after: { status: 'REJECTED', reason: 'tone' } });
    expect(rows[2]).to.deep.include({ subject_type: 'campaign', subject_id: String(campaignId) });
    expect(rows[2]?.before).to.deep.include({ status: 'ACTIVE' });
    expect(rows[2]?.after).to.deep.include({ status: 'PAUSED' });
    expect(rows[3]).to.deep.include({ subject_type: 'kill-switch', subject_id: null, before: { on: false }, after: { on: true } });
    // An address is named by its identity hash, so forgetting the person leaves nothing readable here.
    expect(rows[4]).to.deep.include({ subject_id: identityHash("o'brien@example.com"), after: { kind: 'email', reason: 'asked', campaignId: null } });
    expect(JSON.stringify(rows)).not.to.include('brien@');
    expect(rows[5]).to.deep.include({ subject_id: 'at-and-t.example' });
    expect(rows[6]).to.deep.include({ after: { removed: 1 } });
    expect(rows[7]).to.deep.include({ subject_type: 'operator', subject_id: String(operatorId), after: { id: operatorId, email: 'zoe.oconnor@example.com', role: 'viewer', disabled: false } });
    expect(rows[8]).to.deep.include({ before: { email: 'zoe.oconnor@example.com', role: 'viewer', disabled: false } });
    expect(rows[8]?.after).to.deep.include({ disabled: true, changed: true });
    expect(rows[9]).to.deep.include({ subject_type: 'token', subject_id: String(token.json.id) });
    expect(rows[10]?.after).to.deep.include({ revoked: true });
    // Neither the new token nor any password is ever part of the log.
    expect(JSON.stringify(rows)).not.to.include(String(token.json.token)).and.not.include(operatorPassword);
  });

  it('names a token of the installation token:<name>', async () => {
    const { campaignId } = await seedCampaign(ctx);
    const { token } = await createApiToken(ctx.db, 'deploys', undefined, ctx.clock);
    expect((await callJson(app, 'POST', `/api/campaigns/${campaignId}/pause`, `Bearer ${token}`)).status).to.equal(200);
    const rows = await auditRows(ctx);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ actor: 'token:deploys', via: 'api', action: 'campaign.pause' });
  });

  it('records a sign-in to the admin area, never a refused one', async () => {
    const admin = await bearerFor(ctx, 'admin');
    const refused = await fetch(app.url('/admin/login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: admin.email, password: 'wrong password here' }) });
    expect(refused.status).to.equal(401);
    await signIn(app, admin.email, operatorPassword);
    expect(await auditRows(ctx)).to.deep.equal([
      { actor: 'admin@example.com', via: 'api', action: 'sign-in', subject_type: 'operator', subject_id: String(admin.operatorId), before: null, after: null },
    ]);
  });

  it('records a CLI change as cli:<os user>, or as the person named by --by', async () => {
    const { campaignId } = await seedCampaign(ctx);
    const directory = await mkdtemp(join(tmpdir(), 'drumbeat-audit-'));
    try {
      const paused = await runDrumbeat(['campaign', 'pause', String(campaignId)]);
      expect(paused.code, paused.stderr).to.equal(0);
      const file = join(directory, 'optouts.csv');
      await writeFile(file, 'email\nnot an address\n@spam.example\nbob@example.com\n');
      const imported = await runDrumbeat(['suppress', 'import', file, '--reason', 'list', '--by', 'Ada@Example.com']);
      expect(imported.stdout).to.include('suppressed 2; refused 1');
      const wrongBy = await runDrumbeat(['--by', 'ops', 'campaign', 'resume', String(campaignId)]);
      expect(wrongBy.code).to.equal(1);
      expect(wrongBy.stderr).to.include('--by takes the email of the person acting, not "ops"');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    const rows = await auditRows(ctx);
    const osUser = `cli:${userInfo().username}`;
    expect(rows.map((row) => [row.actor, row.via, row.action])).to.deep.equal([
      [osUser, 'cli', 'campaign.pause'],
      ['ada@example.com', 'cli', 'suppression.import'],
    ]);
    expect(rows[1]?.after).to.deep.equal({ fileName: 'optouts.csv', reason: 'list', campaignId: null, added: 2, refused: 1 });
  });
});
