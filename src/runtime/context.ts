import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { createDb } from '../db/knex.js';
import { QueueRegistry } from '../jobs/queue-registry.js';
import { queueDirectory } from '../../queues/index.js';
import { createRedisConnection, type ConnectionRole, type RedisClient } from '../redis/connection.js';
import { campaignService, type CampaignService } from '../orchestration/campaign-service.js';
import { tickService, type TickService } from '../orchestration/tick-service.js';
import { sendService, type SendService } from '../messages/send-service.js';
import { inboxService } from '../events/inbox-service.js';
import { reconcilerService, type ReconcilerService } from '../maintenance/reconciler-service.js';
import { proofAdapter } from '../channels/proof/proof-adapter.js';
import type { ChannelAdapter } from '../channels/adapter.js';
import type { Channel } from '../core/channels.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import { BreakerRegistry, breakerOptions } from '../channels/resilience/breakers.js';
import { publishBreakerState } from '../channels/resilience/breaker-states.js';
import { buildLiveChannels, type PostPublisher } from '../channels/live-channels.js';
import type { SocialPlatform } from '../core/channels.js';
import { domainThrottle } from '../channels/email/domain-throttle.js';
import { contentCalendar, type ContentCalendar } from '../content/content-calendar.js';
import { composeService, type ComposeService } from '../llm/compose-service.js';
import { llmBudget } from '../llm/llm-budget.js';
import { llmClient } from '../llm/llm-client.js';
import { findCampaign } from '../campaigns/campaign-store.js';
import { templateService, type TemplateService } from '../templates/template-service.js';
import { reviewService, type ReviewService } from '../review/review-service.js';
import { housekeeping, type Housekeeping } from '../maintenance/housekeeping.js';
import { metricsRollup, type MetricsRollup } from '../analytics/metrics-rollup.js';
import { workerMetrics, type WorkerMetrics } from '../metrics/worker-metrics.js';
import { postMetricsService, type PostMetricsService } from '../analytics/post-metrics-service.js';
import { postMetricsQueue, postMetricsRetryJobId } from '../../queues/post-metrics.js';

/** Everything a process shares: config, logger, pools, queues and the services built on them. */
export interface AppContext {
  config: Config;
  log: Logger;
  clock: Clock;
  db: Knex;
  redis: RedisClient;
  queues: QueueRegistry;
  campaigns: CampaignService;
  ticks: TickService;
  sends: SendService;
  reconciler: ReconcilerService;
  templates: TemplateService;
  reviews: ReviewService;
  /** The metrics rollup (the `metrics-rollup` queue and `drumbeat metrics rollup`). */
  rollup: MetricsRollup;
  /** Hourly chores (stale uploads, idle login counters, expired sessions), run by the reconcile job. */
  housekeeping: Housekeeping;
  /** The adapters LIVE campaigns send through, by channel (also used for operator test sends). */
  liveAdapters: Partial<Record<Channel, ChannelAdapter>>;
  /** Content-calendar publishers of LIVE campaigns, by platform. */
  publishers: Partial<Record<SocialPlatform, PostPublisher>>;
  /** LLM personalisation of planned messages (the `compose` queue). */
  compose: ComposeService;
  /** The content calendar: campaign posts published by `publish-<platform>` jobs. */
  content: ContentCalendar;
  /** The circuit breakers of this process (one per external account). */
  breakers: BreakerRegistry;
  /** This process's own counters and histograms (sends, adapter call durations, events applied). */
  metrics: WorkerMetrics;
  /** Reads published posts' engagement from the platforms (the `post-metrics` queue, `metrics fetch`). */
  postMetrics: PostMetricsService;
  /**
   * Shuts the breakers, closes the queues, the Redis connection and the database pool (unless it
   * was given in `ContextOptions.db`), in that order.
   */
  close(): Promise<void>;
}

export interface ContextOptions {
  clock?: Clock;
  /** `http` for the API process (fail fast while Redis is down), `worker` otherwise. */
  redisRole?: ConnectionRole;
  /** Replaces the adapters built from config (SMTP_URL, platform tokens). */
  liveAdapters?: Partial<Record<Channel, ChannelAdapter>>;
  /** Replaces the post publishers built from config. */
  publishers?: Partial<Record<SocialPlatform, PostPublisher>>;
  db?: Knex;
  /** What Thompson variant selection draws from (a seeded one in tests). */
  random?: Random;
}

/** The LLM personalisation service, with its client when `LLM_BASE_URL` is set and its budget in Redis. */
function buildComposeService(deps: { db: Knex; queues: QueueRegistry; config: Config; clock: Clock; log: Logger; breakers: BreakerRegistry; redis: RedisClient }) {
  const { config, redis, clock } = deps;
  return composeService({
    ...deps,
    budget: llmBudget(redis, config.QUEUE_PREFIX, { rpm: config.LLM_RPM, tpm: config.LLM_TPM }, clock),
    llm:
      config.LLM_BASE_URL === undefined
        ? undefined
        : llmClient({ baseUrl: config.LLM_BASE_URL, apiKey: config.LLM_API_KEY, model: config.LLM_MODEL, maxTokens: config.LLM_MAX_TOKENS, timeoutMs: config.LLM_TIMEOUT }),
  });
}

/** The post metrics reader, which retries a platform that asked it to wait through a delayed job. */
function buildPostMetricsService(deps: { db: Knex; clock: Clock; log: Logger; queues: QueueRegistry; readers: Parameters<typeof postMetricsService>[0]['readers'] }) {
  const { queues, ...rest } = deps;
  return postMetricsService({
    ...rest,
    retryLater: async (request, delayMs, day) => {
      const jobId = postMetricsRetryJobId(request.platforms[0], request.campaignId, day, request.retry);
      await queues.get(postMetricsQueue).add(postMetricsQueue.jobName, postMetricsQueue.schema.parse(request), { jobId, delay: delayMs });
    },
  });
}

/** Builds the shared context of a process. */
export function createAppContext(config: Config, log: Logger, options: ContextOptions = {}): AppContext {
  const clock = options.clock ?? systemClock;
  const db = options.db ?? createDb(config);
  const redis = createRedisConnection(config, options.redisRole ?? 'worker', log);
  const queues = new QueueRegistry(redis, config.QUEUE_PREFIX, queueDirectory);
  const campaigns = campaignService({ db, queues, clock, log });
  const breakers = new BreakerRegistry(breakerOptions(config), log, (state) => {
    publishBreakerState(redis, config.QUEUE_PREFIX, state).catch((error: unknown) => log.warn({ err: error }, 'could not record a breaker state'));
  });
  const live = buildLiveChannels(config, breakers);
  const publishers = options.publishers ?? live.publishers;
  const content = contentCalendar({ db, queues, clock, log, publishers, campaigns });
  const compose = buildComposeService({ db, queues, config, clock, log, breakers, redis });
  const ticks = tickService({ db, queues, clock, log, config, campaigns, content, compose, ...(options.random === undefined ? {} : { random: options.random }) });
  const liveAdapters = options.liveAdapters ?? live.adapters;
  const throttle = config.EMAIL_DOMAIN_PER_MINUTE === undefined ? undefined : domainThrottle(redis, config.QUEUE_PREFIX, config.EMAIL_DOMAIN_PER_MINUTE, clock);
  const metrics = workerMetrics();
  const sends = sendService({ db, config, clock, log, liveAdapters, proof: proofAdapter(db), campaigns, metrics, ...(throttle === undefined ? {} : { domainThrottle: throttle }) });
  const reconciler = reconcilerService({ db, queues, clock, log, config, campaigns, redis, inbox: inboxService({ db, queues, clock }) });
  const postMetrics = buildPostMetricsService({ db, clock, log, queues, readers: live.postMetrics });
  const templates = templateService({ db, clock, campaignExists: async (id) => (await findCampaign(db, id)) !== undefined });
  const reviews = reviewService({ db, queues, config, clock, log });
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
    templates,
    reviews,
    housekeeping: housekeeping({ db, clock, log, config }),
    rollup: metricsRollup({ db, clock, log }),
    liveAdapters,
    publishers,
    content,
    compose,
    breakers,
    metrics,
    postMetrics,
    async close() {
      breakers.shutdown();
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
      if (options.db === undefined) await db.destroy();
    },
  };
}
