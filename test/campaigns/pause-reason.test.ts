import { userInfo } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { buildHttpApp } from '../../src/runtime/processes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { freshEngine, runDrumbeat, seedCampaign } from '../support/engine.js';

interface PauseColumns {
  status: string;
  pause_reason: string | null;
  paused_by: string | null;
  paused_at: Date | null;
}

describe('who paused a campaign, and why', function () {
  this.timeout(30_000);
  const engine = freshEngine();

  async function pauseColumns(id: number): Promise<PauseColumns> {
    return (await engine.ctx.db('campaigns').where({ id }).first('status', 'pause_reason', 'paused_by', 'paused_at')) as PauseColumns;
  }

  it('a manual pause records who paused (cli:<os user>, or the token) and no fault reason; resume clears it; a fault pause shows its reason until resumed', async () => {
    const { campaignId } = await seedCampaign(engine.ctx, { spec: { name: 'Spring 春 🌸' } });

    const paused = await runDrumbeat(['campaign', 'pause', String(campaignId)]);
    expect(paused.stdout.trim()).to.equal(`campaign ${campaignId} is PAUSED`);
    expect(await pauseColumns(campaignId)).to.deep.include({ status: 'PAUSED', pause_reason: null, paused_by: `cli:${userInfo().username}` });
    expect((await pauseColumns(campaignId)).paused_at).to.be.instanceOf(Date);
    const shown = await runDrumbeat(['campaign', 'show', String(campaignId)]);
    expect(shown.stdout).to.include('status PAUSED').and.not.include('Paused by drumbeat');
    await engine.ctx.campaigns.resume(campaignId);
    expect(await pauseColumns(campaignId)).to.deep.equal({ status: 'ACTIVE', pause_reason: null, paused_by: null, paused_at: null });

    const { token } = await createApiToken(engine.ctx.db, 'ops');
    const server: Server = await new Promise((resolve) => {
      const listening = buildHttpApp(engine.ctx).listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/api/campaigns/${campaignId}/pause`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(response.status).to.equal(200);
      const body = (await response.json()) as { campaign: { status: string; pausedBy: string; pauseReason: string | null } };
      expect(body.campaign).to.deep.include({ status: 'PAUSED', pausedBy: 'token:ops', pauseReason: null });
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    await engine.ctx.campaigns.resume(campaignId);

    // A fault pause (here a LIVE campaign's account) carries the reason; resume clears it.
    await engine.ctx.db('campaigns').where({ id: campaignId }).update({ mode: 'LIVE' });
    const faulted = await engine.ctx.campaigns.pauseForSenderFault({ channel: 'email', campaignId, reason: 'SMTP relay refused at DATA: 550 5.4.5 Daily user sending quota exceeded' });
    expect(faulted.map((campaign) => campaign.id)).to.deep.equal([campaignId]);
    expect(await pauseColumns(campaignId)).to.deep.include({ status: 'PAUSED', paused_by: 'drumbeat', pause_reason: 'SMTP relay refused at DATA: 550 5.4.5 Daily user sending quota exceeded' });
    expect(await engine.ctx.campaigns.pauseForSenderFault({ channel: 'email', campaignId, reason: 'again' }), 'nothing left to pause').to.deep.equal([]);
    const report = await runDrumbeat(['report', String(campaignId), '--format', 'md']);
    expect(report.stdout).to.include(`**Paused by drumbeat:** SMTP relay refused at DATA: 550 5.4.5 Daily user sending quota exceeded. Fix it, then \`drumbeat campaign resume ${campaignId}\`.`);
    await engine.ctx.campaigns.resume(campaignId);
    expect(await pauseColumns(campaignId)).to.deep.equal({ status: 'ACTIVE', pause_reason: null, paused_by: null, paused_at: null });
  });
});
