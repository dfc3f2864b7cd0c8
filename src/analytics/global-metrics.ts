import type { Knex } from 'knex';
import type { AppQueue } from '../jobs/queue-store.js';
import { channels } from '../core/channels.js';
import type { CampaignMode, CampaignStatus } from '../campaigns/campaign-store.js';
import type { BreakerStateStore } from '../channels/resilience/breaker-states.js';
import { MESSAGE_STATUSES } from '../messages/message-lifecycle.js';
import { readKillSwitch } from '../settings/kill-switch.js';
import { MetricsRegistry } from '../metrics/metrics-registry.js';
import { mergeExpositions } from '../metrics/prometheus-text.js';

const campaignStatuses: readonly CampaignStatus[] = ['DRAFT', 'ACTIVE', 'PAUSED', 'COMPLETED', 'ARCHIVED'];
const campaignModes: readonly CampaignMode[] = ['LIVE', 'PROOF'];

export interface GlobalMetricsDeps {
  db: Knex;
  /** Where the workers report their breakers (in the queue store's database). */
  breakerStates: Pick<BreakerStateStore, 'read'>;
  /** Every queue drumbeat runs. */
  queues: readonly AppQueue[];
}

/**
 * The deployment-wide view, the same whichever api process answers: BullMQ's own metrics of
 * every queue (`bullmq_job_count{queue,state}`, and the completed and failed counters the
 * workers record), merged into one family each, then gauges read now: messages by channel, mode
 * and status (one GROUP BY), campaigns by status, the kill switch (Postgres), and each circuit
 * breaker's last reported state (the queue store's database). Every known label combination is written, zeros
 * included, so a series never vanishes when its count drops to nothing.
 */
export async function globalMetrics({ db, breakerStates, queues }: GlobalMetricsDeps): Promise<string> {
  const [queueTexts, messageRows, campaignRows, killSwitch, breakers] = await Promise.all([
    Promise.all(queues.map((queue) => queue.exportPrometheusMetrics())),
    db.raw<{ rows: Array<{ channel: string; mode: string; status: string; count: number }> }>(
      `SELECT m.channel, c.mode, m.status, count(*)::int AS count
         FROM messages m JOIN campaigns c ON c.id = m.campaign_id
        GROUP BY m.channel, c.mode, m.status`,
    ),
    db.raw<{ rows: Array<{ status: string; count: number }> }>(`SELECT status, count(*)::int AS count FROM campaigns GROUP BY status`),
    readKillSwitch(db),
    breakerStates.read(),
  ]);

  const registry = new MetricsRegistry();
  const messages = registry.gauge('drumbeat_messages', 'Messages by channel, campaign mode and status, counted in Postgres now', ['channel', 'mode', 'status'] as const);
  for (const channel of channels) for (const mode of campaignModes) for (const status of MESSAGE_STATUSES) messages.set({ channel, mode, status }, 0);
  for (const row of messageRows.rows) messages.set({ channel: row.channel, mode: row.mode, status: row.status }, row.count);

  const campaigns = registry.gauge('drumbeat_campaigns', 'Campaigns by status', ['status'] as const);
  for (const status of campaignStatuses) campaigns.set({ status }, 0);
  for (const row of campaignRows.rows) campaigns.set({ status: row.status }, row.count);

  registry.gauge('drumbeat_kill_switch', 'The global kill switch: 1 on (nothing is sent), 0 off').set({}, killSwitch.on ? 1 : 0);

  const open = registry.gauge('drumbeat_breaker_open', 'Each circuit breaker as last reported by a worker: 1 open, 0 closed or half-open', ['breaker'] as const);
  for (const breaker of breakers) open.set({ breaker: breaker.name }, breaker.state === 'open' ? 1 : 0);

  return mergeExpositions([...queueTexts, registry.exposition()]);
}
