import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { buildHttpApp } from '../../src/runtime/processes.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { mergeExpositions } from '../../src/metrics/prometheus-text.js';
import { MetricsRegistry } from '../../src/metrics/metrics-registry.js';
import { eventService } from '../../src/events/event-service.js';
import { inboxService } from '../../src/events/inbox-service.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import { clockNow } from '../support/clock.js';
import { startSmtpServer, type SmtpHarness } from '../channels/smtp-harness.js';
import { allQueues } from '../../queues/index.js';
import { parsePrometheusText, valueOf, type Exposition } from './prometheus-parser.js';

const metricsToken = 'metrics-token-0123456789abcdef';

describe('Prometheus metrics', function () {
  this.timeout(60_000);

  describe('the text format', () => {
    it('the strict reader refuses a repeated HELP or TYPE, a split family, bad names, bad escapes and repeated series', () => {
      const good = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1",y="q\\"\\\\\\n"} 3\n';
      expect(valueOf(parsePrometheusText(good), 'a_total', { x: '1', y: 'q"\\\n' })).to.equal(3);
      const bad = [
        '# HELP a A.\n# HELP a again\na 1\n',
        '# TYPE a gauge\n# TYPE a gauge\na 1\n',
        '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="2"} 1\n',
        '1a 1\n',
        'a{1x="1"} 1\n',
        'a{x="\\t"} 1\n',
        'a{x="1",x="2"} 1\n',
        'a 1\na 2\n',
        'a one\n',
        'a 1',
      ];
      for (const text of bad) expect(() => parsePrometheusText(text), text).to.throw();
    });

    it('merges expositions into one HELP and TYPE per family, with BullMQ’s blanks between labels removed', () => {
      const queue = (name: string) =>
        `# HELP bullmq_job_count Number of jobs in the queue by state\n# TYPE bullmq_job_count gauge\nbullmq_job_count{queue="${name}", state="waiting"} 2\n# HELP bullmq_job_completed_total Total number of completed jobs\n# TYPE bullmq_job_completed_total counter\nbullmq_job_completed_total{queue="${name}"} 7`;
      const registry = new MetricsRegistry();
      registry.histogram('call_seconds', 'Calls.', ['channel'] as const, [0.1, 1]).observe({ channel: 'AT&T "Labs"\n' }, 0.5);
      const merged = parsePrometheusText(mergeExpositions([queue('send-email'), queue('events'), registry.exposition()]));
      expect([...merged.types]).to.deep.equal([
        ['bullmq_job_count', 'gauge'],
        ['bullmq_job_completed_total', 'counter'],
        ['call_seconds', 'histogram'],
      ]);
      expect(valueOf(merged, 'bullmq_job_count', { queue: 'events', state: 'waiting' })).to.equal(2);
      expect(valueOf(merged, 'bullmq_job_completed_total', { queue: 'send-email' })).to.equal(7);
      expect(valueOf(merged, 'call_seconds_bucket', { channel: 'AT&T "Labs"\n', le: '0.1' })).to.equal(0);
      expect(valueOf(merged, 'call_seconds_bucket', { channel: 'AT&T "Labs"\n', le: '1' })).to.equal(1);
      expect(valueOf(merged, 'call_seconds_bucket', { channel: 'AT&T "Labs"\n', le: '+Inf' })).to.equal(1);
      expect(valueOf(merged, 'call_seconds_count', { channel: 'AT&T "Labs"\n' })).to.equal(1);
    });
  });

  describe('the endpoints', () => {
    let ctx: AppContext;
    let smtp: SmtpHarness;
    let workers: RunningWorkers | undefined;
    let server: Server | undefined;

    beforeEach(async () => {
      await resetDatabase();
      await resetQueueStore();
      smtp = await startSmtpServer();
      ctx = engineContext({
        clock: clockNow(),
        env: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://drumbeat.example', POSTAL_ADDRESS: '1 Analytical Way, London', METRICS_TOKEN: metricsToken, WORKER_METRICS_PORT: '0' },
      });
    });

    afterEach(async () => {
      await workers?.close();
      workers = undefined;
      if (server !== undefined) {
        const running = server;
        await new Promise<void>((resolve) => {
          running.close(() => resolve());
          running.closeAllConnections();
        });
        server = undefined;
      }
      await ctx.close();
      await smtp.close();
    });

    async function apiUrl(): Promise<string> {
      server ??= await new Promise<Server>((resolve) => {
        const listening = buildHttpApp(ctx).listen(0, '127.0.0.1', () => resolve(listening));
      });
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    }

    async function scrape(url: string): Promise<Exposition> {
      const response = await fetch(url, { headers: { authorization: `Bearer ${metricsToken}` } });
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
      return parsePrometheusText(await response.text());
    }

    it('api: parses strictly; message and campaign gauges equal Postgres, queue families appear once, breakers and kill switch are read now', async () => {
      const proof = await seedCampaign(ctx, { leads: makeLeads(5, 'proof') });
      const live = await seedCampaign(ctx, { leads: makeLeads(3, 'live'), spec: { mode: 'LIVE', from: { name: 'Ada', email: 'ada@drumbeat.example' } } });
      await seedCampaign(ctx, { leads: makeLeads(1, 'draft'), start: false });
      await ctx.ticks.runTick(proof.campaignId, ctx.clock.now());
      await ctx.ticks.runTick(live.campaignId, ctx.clock.now());
      workers = await startWorkers(ctx, undefined, { schedule: false });
      await eventually(async () => (await statusCounts(ctx, proof.campaignId)).SENT_PROOF === 5 && (await statusCounts(ctx, live.campaignId)).SENT === 3, 'every message sent');
      await ctx.breakerStates.publish({ name: 'smtp-default', state: 'open', since: ctx.clock.now().toISOString() });
      await ctx.breakerStates.publish({ name: 'x-api', state: 'closed', since: ctx.clock.now().toISOString() });

      const metrics = await scrape(await apiUrl());
      const counted = (await ctx.db.raw<{ rows: Array<{ channel: string; mode: string; status: string; count: number }> }>(
        `SELECT m.channel, c.mode, m.status, count(*)::int AS count FROM messages m JOIN campaigns c ON c.id = m.campaign_id GROUP BY 1, 2, 3`,
      )).rows;
      expect(counted).to.have.length(2);
      const gauges = metrics.samples.filter((sample) => sample.name === 'drumbeat_messages');
      expect(gauges, 'every channel × mode × status').to.have.length(4 * 2 * 11);
      for (const sample of gauges) {
        const row = counted.find((candidate) => candidate.channel === sample.labels.channel && candidate.mode === sample.labels.mode && candidate.status === sample.labels.status);
        expect(sample.value, JSON.stringify(sample.labels)).to.equal(row?.count ?? 0);
      }
      expect(valueOf(metrics, 'drumbeat_messages', { channel: 'email', mode: 'PROOF', status: 'SENT_PROOF' })).to.equal(5);
      expect(valueOf(metrics, 'drumbeat_messages', { channel: 'email', mode: 'LIVE', status: 'SENT' })).to.equal(3);
      expect(valueOf(metrics, 'drumbeat_campaigns', { status: 'ACTIVE' })).to.equal(2);
      expect(valueOf(metrics, 'drumbeat_campaigns', { status: 'DRAFT' })).to.equal(1);
      expect(valueOf(metrics, 'drumbeat_campaigns', { status: 'PAUSED' })).to.equal(0);
      expect(valueOf(metrics, 'drumbeat_kill_switch', {})).to.equal(0);
      expect(valueOf(metrics, 'drumbeat_breaker_open', { breaker: 'smtp-default' })).to.equal(1);
      expect(valueOf(metrics, 'drumbeat_breaker_open', { breaker: 'x-api' })).to.equal(0);
      expect(metrics.types.get('bullmq_job_count')).to.equal('gauge');
      expect(valueOf(metrics, 'bullmq_job_count', { queue: 'send-email', state: 'completed' })).to.equal(8);
      expect(valueOf(metrics, 'bullmq_job_completed_total', { queue: 'send-email' }), 'counted with the workers’ metrics option').to.equal(8);
      expect(valueOf(metrics, 'bullmq_job_failed_total', { queue: 'send-email' })).to.equal(0);
      expect(metrics.samples.filter((sample) => sample.name === 'bullmq_job_completed_total').map((sample) => sample.labels.queue), 'every queue').to.deep.equal(allQueues.map((queue) => queue.name));
    });

    it('worker: its send counters and adapter call histogram equal what it sent, and its applied events are counted', async () => {
      const proof = await seedCampaign(ctx, { leads: makeLeads(4, 'proof') });
      const live = await seedCampaign(ctx, { leads: makeLeads(2, 'live'), spec: { mode: 'LIVE', from: { name: 'Ada', email: 'ada@drumbeat.example' } } });
      await ctx.ticks.runTick(proof.campaignId, ctx.clock.now());
      await ctx.ticks.runTick(live.campaignId, ctx.clock.now());
      workers = await startWorkers(ctx, undefined, { schedule: false });
      await eventually(async () => (await statusCounts(ctx, proof.campaignId)).SENT_PROOF === 4 && (await statusCounts(ctx, live.campaignId)).SENT === 2, 'every message sent');
      const inbox = inboxService(ctx);
      await inbox.store([
        {
          provider: 'drumbeat',
          eventId: 'open-1',
          payload: { type: 'opened', email: 'live-0@example.com', occurredAt: ctx.clock.now().toISOString(), messageRefs: [], campaignId: null, bounce: null, data: {} },
        },
      ]);
      const [{ id }] = (await ctx.db('inbox_events').select('id')) as [{ id: number }];
      await eventService(ctx).apply(id);

      const port = workers.metricsServer?.port;
      expect(port).to.be.a('number');
      const metrics = await scrape(`http://127.0.0.1:${port}/metrics`);
      expect(smtp.received).to.have.length(2);
      expect(valueOf(metrics, 'drumbeat_sends_total', { channel: 'email', mode: 'PROOF', outcome: 'sent' })).to.equal(4);
      expect(valueOf(metrics, 'drumbeat_sends_total', { channel: 'email', mode: 'LIVE', outcome: 'sent' })).to.equal(smtp.received.length);
      expect(metrics.samples.filter((sample) => sample.name === 'drumbeat_sends_total').reduce((sum, sample) => sum + sample.value, 0)).to.equal(6);
      expect(metrics.types.get('drumbeat_adapter_call_seconds')).to.equal('histogram');
      expect(valueOf(metrics, 'drumbeat_adapter_call_seconds_count', { channel: 'email' }), 'LIVE calls only').to.equal(2);
      expect(valueOf(metrics, 'drumbeat_adapter_call_seconds_bucket', { channel: 'email', le: '+Inf' })).to.equal(2);
      expect(valueOf(metrics, 'drumbeat_events_applied_total', { type: 'opened' })).to.equal(1);
    });

    it('both endpoints refuse a scrape without the token, or with another, with 401', async () => {
      workers = await startWorkers(ctx, undefined, { schedule: false });
      const urls = [await apiUrl(), `http://127.0.0.1:${workers.metricsServer?.port}/metrics`];
      for (const url of urls) {
        for (const headers of [{}, { authorization: 'Bearer not-the-metrics-token-at-all' }, { authorization: metricsToken }] as Array<Record<string, string>>) {
          const response = await fetch(url, { headers });
          expect(response.status, `${url} ${JSON.stringify(headers)}`).to.equal(401);
          expect(response.headers.get('www-authenticate')).to.equal('Bearer realm="metrics"');
          expect(await response.json()).to.deep.equal({ error: 'metrics need Authorization: Bearer <METRICS_TOKEN>' });
        }
        expect((await fetch(url, { headers: { authorization: `Bearer ${metricsToken}` } })).status).to.equal(200);
      }
    });
  });

  describe('without METRICS_TOKEN', () => {
    it('the api’s /metrics is open', async () => {
      await resetDatabase();
      await resetQueueStore();
      const ctx = engineContext({});
      const server = await new Promise<Server>((resolve) => {
        const listening = buildHttpApp(ctx).listen(0, '127.0.0.1', () => resolve(listening));
      });
      try {
        const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
        expect(response.status).to.equal(200);
        expect(valueOf(parsePrometheusText(await response.text()), 'drumbeat_kill_switch', {})).to.equal(0);
      } finally {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await ctx.close();
      }
    });
  });
});
