import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { createDb } from '../db/knex.js';
import { QueueRegistry } from '../jobs/queue-registry.js';
import { createRedisConnection, type ConnectionRole, type Redis } from '../redis/connection.js';
import { campaignService, type CampaignService } from '../campaigns/campaign-service.js';
import { tickService, type TickService } from '../campaigns/tick-service.js';
import { sendService, type SendService } from '../messages/send-service.js';
import { reconcilerService, type ReconcilerService } from '../messages/reconciler-service.js';
import { proofAdapter } from '../channels/proof/proof-adapter.js';
import type { ChannelAdapter } from '../channels/adapter.js';
import type { Channel } from '../campaigns/campaign-spec.js';
import { systemClock, type Clock } from './clock.js';

/** Everything a process shares: config, logger, pools, queues and the services built on them. */
export interface AppContext {
  config: Config;
  log: Logger;
  clock: Clock;
  db: Knex;
  redis: Redis;
  queues: QueueRegistry;
  campaigns: CampaignService;
  ticks: TickService;
  sends: SendService;
  reconciler: ReconcilerService;
  /** Closes the queues, the Redis connection and the database pool, in that order. */
  close(): Promise<void>;
}

export interface ContextOptions {
  clock?: Clock;
  /** `http` for the API process (fail fast while Redis is down), `worker` otherwise. */
  redisRole?: ConnectionRole;
  liveAdapters?: Partial<Record<Channel, ChannelAdapter>>;
  db?: Knex;
}

/** Builds the shared context of a process. */
export function createAppContext(config: Config, log: Logger, options: ContextOptions = {}): AppContext {
  const clock = options.clock ?? systemClock;
  const db = options.db ?? createDb(config);
  const redis = createRedisConnection(config, options.redisRole ?? 'worker', log);
  const queues = new QueueRegistry(redis, config.QUEUE_PREFIX);
  const campaigns = campaignService({ db, queues, clock, log });
  const ticks = tickService({ db, queues, clock, log, config, campaigns });
  const sends = sendService({ db, config, clock, log, liveAdapters: options.liveAdapters ?? {}, proof: proofAdapter(db) });
  const reconciler = reconcilerService({ db, queues, clock, log, config, campaigns, redis });
  return {
    config,
    log,
    clock,
    db,
    redis,
    queues,
    campaigns,
    ticks,
    sends,
    reconciler,
    async close() {
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
      if (options.db === undefined) await db.destroy();
    },
  };
}
