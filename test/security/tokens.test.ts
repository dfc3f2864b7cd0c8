import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { addOperator } from '../../src/operators/operator-service.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { signIn, startApp, type RunningApp } from '../http/http-harness.js';
import { freshEngineWithClock, runDrumbeat } from '../support/engine.js';
import { operatorPassword } from './security-support.js';

describe('security: tokens expire, are revoked, and die with their operator', function () {
  this.timeout(60_000);
  const engine = freshEngineWithClock();
  let ctx: AppContext;
  let app: RunningApp;

  beforeEach(async () => {
    ctx = engine.ctx;
    app = await startApp({ config: ctx.config, db: ctx.db, clock: ctx.clock, log: ctx.log });
  });

  afterEach(() => app.close());

  const whoami = (token: string) => fetch(app.url('/api/whoami'), { headers: { authorization: `Bearer ${token}` } });

  it('token create --expires 1d: accepted until the clock passes a day, then 401', async () => {
    const created = await runDrumbeat(['token', 'create', 'nightly export', '--expires', '1d']);
    expect(created.code, created.stderr).to.equal(0);
    const token = created.stdout.trim();
    expect(token).to.match(/^dbt_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).to.match(/^token 1 "nightly export" acts as operator, expires \S+Z; it is shown only now\n$/);

    expect((await whoami(token)).status).to.equal(200);
    engine.clock.advance(86_400_000 - 60_000);
    expect((await whoami(token)).status, 'a minute before expiry').to.equal(200);
    engine.clock.advance(2 * 60_000);
    const expired = await whoami(token);
    expect(expired.status).to.equal(401);
    expect(expired.headers.get('www-authenticate')).to.include('invalid_token');
  });

  it('gives a new token 90 days by default and keeps --expires never forever', async () => {
    const defaulted = await createApiToken(ctx.db, 'default', undefined, ctx.clock);
    expect(defaulted.expiresAt?.toISOString()).to.equal(engine.clock.after(90 * 86_400_000).toISOString());
    const forever = await runDrumbeat(['token', 'create', 'forever', '--expires', 'never']);
    expect(forever.stderr).to.include('never expires');
    engine.clock.advance(400 * 86_400_000);
    expect((await whoami(forever.stdout.trim())).status).to.equal(200);
    expect((await whoami(defaulted.token)).status).to.equal(401);

    const bad = await runDrumbeat(['token', 'create', 'x', '--expires', 'soon']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.equal('drumbeat: --expires: a lifetime such as 90d, 12h or 1w (at least a minute), or never\n');
  });

  it('token revoke <name> and token revoke <id>: the token is refused at once', async () => {
    const first = await createApiToken(ctx.db, 'ci', undefined, ctx.clock);
    const second = await createApiToken(ctx.db, 'crm sync', undefined, ctx.clock);
    expect((await whoami(first.token)).status).to.equal(200);

    const byName = await runDrumbeat(['token', 'revoke', 'ci']);
    expect(byName.code, byName.stderr).to.equal(0);
    expect(byName.stdout).to.equal(`token ${first.id} "ci" revoked\n`);
    expect((await whoami(first.token)).status).to.equal(401);

    const byId = await runDrumbeat(['token', 'revoke', String(second.id)]);
    expect(byId.stdout).to.equal(`token ${second.id} "crm sync" revoked\n`);
    expect((await whoami(second.token)).status).to.equal(401);

    const unknown = await runDrumbeat(['token', 'revoke', 'nothing-by-this-name']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.equal('drumbeat: no unrevoked API token is named "nothing-by-this-name"\n');
  });

  it('operator disable ends that operator’s sessions and refuses their tokens; enable lets them sign in again', async () => {
    await addOperator(ctx.db, 'admin@example.com', operatorPassword, { role: 'admin' });
    await addOperator(ctx.db, 'nuala@example.com', operatorPassword, { role: 'operator' });
    const nualaToken = await createApiToken(ctx.db, 'nuala laptop', 'nuala@example.com', ctx.clock);
    const adminToken = await createApiToken(ctx.db, 'admin laptop', 'admin@example.com', ctx.clock);
    const session = await signIn(app, 'nuala@example.com', operatorPassword);
    const board = () => fetch(app.url('/admin/queues/api/queues'), { headers: { cookie: session.cookie } });
    expect((await board()).status).to.equal(200);

    const disabled = await runDrumbeat(['operator', 'disable', 'Nuala@Example.com']);
    expect(disabled.code, disabled.stderr).to.equal(0);
    expect(disabled.stdout).to.equal('operator nuala@example.com disabled; their sessions ended and their tokens are refused\n');
    expect((await board()).status).to.equal(401);
    expect(await ctx.db('operator_sessions').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    expect((await whoami(nualaToken.token)).status).to.equal(401);
    expect((await whoami(adminToken.token)).status, 'other operators are untouched').to.equal(200);
    const refused = await fetch(app.url('/admin/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'nuala@example.com', password: operatorPassword }),
    });
    expect(refused.status).to.equal(401);

    const enabled = await runDrumbeat(['operator', 'enable', 'nuala@example.com']);
    expect(enabled.stdout).to.equal('operator nuala@example.com enabled\n');
    expect((await whoami(nualaToken.token)).status).to.equal(200);
    expect((await signIn(app, 'nuala@example.com', operatorPassword)).response.status).to.equal(200);
  });

  it('token list prints name, owner, role, created, last used, expires and status, and never a token', async () => {
    await addOperator(ctx.db, 'siobhan@example.com', operatorPassword, { role: 'reviewer' });
    const mine = await createApiToken(ctx.db, 'Siobhán’s review 📝', 'siobhan@example.com', ctx.clock);
    const shared = await createApiToken(ctx.db, 'ci', undefined, ctx.clock, null);
    await whoami(shared.token);
    const revoked = await createApiToken(ctx.db, 'old', undefined, ctx.clock);
    await runDrumbeat(['token', 'revoke', String(revoked.id)]);

    const listed = await runDrumbeat(['token', 'list']);
    expect(listed.code, listed.stderr).to.equal(0);
    const lines = listed.stdout.trimEnd().split('\n').map((line) => line.split('\t'));
    expect(lines[0]).to.deep.equal(['id', 'name', 'owner', 'role', 'created', 'last used', 'expires', 'status']);
    const created = engine.clock.now().toISOString();
    expect(lines.slice(1)).to.deep.equal([
      [String(mine.id), 'Siobhán’s review 📝', 'siobhan@example.com', 'reviewer', created, 'never', mine.expiresAt?.toISOString(), 'live'],
      [String(shared.id), 'ci', '(installation)', 'operator', created, created, 'never', 'live'],
      [String(revoked.id), 'old', '(installation)', 'operator', created, 'never', revoked.expiresAt?.toISOString(), 'revoked'],
    ]);
    for (const token of [mine, shared, revoked]) expect(listed.stdout).not.to.include(token.token.slice(4, 20));
    const hashes = (await ctx.db('api_tokens').pluck('token_hash')) as string[];
    for (const hash of hashes) expect(listed.stdout).not.to.include(hash.slice(0, 16));
  });

  it('operator add --role sets the role; without it the first operator is admin and later ones operator', async () => {
    const first = await runDrumbeat(['operator', 'add', 'first@example.com', '--password', operatorPassword]);
    expect(first.stdout).to.equal('operator first@example.com added as admin\n');
    const second = await runDrumbeat(['operator', 'add', 'second@example.com', '--password', operatorPassword]);
    expect(second.stdout).to.equal('operator second@example.com added as operator\n');
    const viewer = await runDrumbeat(['operator', 'add', 'third@example.com', '--password', operatorPassword, '--role', 'viewer']);
    expect(viewer.stdout).to.equal('operator third@example.com added as viewer\n');
    const bad = await runDrumbeat(['operator', 'add', 'fourth@example.com', '--password', operatorPassword, '--role', 'root']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.match(/^drumbeat: ✖ a role: admin, operator, reviewer, viewer/);

    const listed = await runDrumbeat(['operator', 'list']);
    const rows = listed.stdout.trimEnd().split('\n').map((line) => line.split('\t').slice(1, 3).join(' '));
    expect(rows).to.deep.equal(['email role', 'first@example.com admin', 'second@example.com operator', 'third@example.com viewer']);
  });
});
