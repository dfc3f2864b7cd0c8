import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { createDb } from '../db/knex.js';
import { QueueRegistry } from '../jobs/queue-registry.js';
import { createRedisConnection, type ConnectionRole, type Redis } from '../redis/connection.js';
import { campaignService, type CampaignService } from '../campaigns/campaign-service.js';
import { tickService, type TickService } from '../campaigns/tick-service.js';
import { sendService, type SendService } from '../messages/send-service.js';
import { inboxService } from '../events/inbox-service.js';
import { reconcilerService, type ReconcilerService } from '../messages/reconciler-service.js';
import { proofAdapter } from '../channels/proof/proof-adapter.js';
import type { ChannelAdapter } from '../channels/adapter.js';
import type { Channel } from '../campaigns/campaign-spec.js';
import { systemClock, type Clock } from './clock.js';
import { BreakerRegistry, breakerOptions } from '../channels/resilience/breakers.js';
import { publishBreakerState } from '../channels/resilience/breaker-states.js';
import { buildLiveChannels, type PostPublisher, type SocialPlatform } from '../channels/live-channels.js';
import { domainThrottle } from '../channels/email/domain-throttle.js';
import { contentCalendar, type ContentCalendar } from '../content/content-calendar.js';
import { composeService, type ComposeService } from '../llm/compose-service.js';
import { llmBudget } from '../llm/llm-budget.js';
import { llmClient } from '../llm/llm-client.js';
import { templateService, type TemplateService } from '../templates/template-service.js';
import { reviewService, type ReviewService } from '../review/review-service.js';
import { housekeeping, type Housekeeping } from '../maintenance/housekeeping.js';
import { workerMetrics, type WorkerMetrics } from '../metrics/worker-metrics.js';
import { postMetricsService, type PostMetricsService } from '../analytics/post-metrics-service.js';
import { postMetricsQueue, postMetricsRetryJobId } from '../../queues/post-metrics.js';

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
  templates: TemplateService;
  reviews: ReviewService;
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
}

/** Builds the shared context of a process. */
export function createAppContext(config: Config, log: Logger, options: ContextOptions = {}): AppContext {
  const clock = options.clock ?? systemClock;
  const db = options.db ?? createDb(config);
  const redis = createRedisConnection(config, options.redisRole ?? 'worker', log);
  const queues = new QueueRegistry(redis, config.QUEUE_PREFIX);
  const campaigns = campaignService({ db, queues, clock, log });
  const breakers = new BreakerRegistry(breakerOptions(config), log, (state) => {
    publishBreakerState(redis, config.QUEUE_PREFIX, state).catch((error: unknown) => log.warn({ err: error }, 'could not record a breaker state'));
  });
  const live = buildLiveChannels(config, breakers);
  const publishers = options.publishers ?? live.publishers;
  const content = contentCalendar({ db, queues, clock, log, publishers, campaigns });
  const compose = composeService({
    db,
    queues,
    config,
    clock,
    log,
    breakers,
    budget: llmBudget(redis, config.QUEUE_PREFIX, { rpm: config.LLM_RPM, tpm: config.LLM_TPM }, clock),
    llm:
      config.LLM_BASE_URL === undefined
        ? undefined
        : llmClient({ baseUrl: config.LLM_BASE_URL, apiKey: config.LLM_API_KEY, model: config.LLM_MODEL, maxTokens: config.LLM_MAX_TOKENS, timeoutMs: config.LLM_TIMEOUT }),
  });
  const ticks = tickService({ db, queues, clock, log, config, campaigns, content, compose });
  const liveAdapters = options.liveAdapters ?? live.adapters;
  const throttle = config.EMAIL_DOMAIN_PER_MINUTE === undefined ? undefined : domainThrottle(redis, config.QUEUE_PREFIX, config.EMAIL_DOMAIN_PER_MINUTE, clock);
  const metrics = workerMetrics();
  const sends = sendService({ db, config, clock, log, liveAdapters, proof: proofAdapter(db), campaigns, metrics, ...(throttle === undefined ? {} : { domainThrottle: throttle }) });
  const reconciler = reconcilerService({ db, queues, clock, log, config, campaigns, redis, inbox: inboxService({ db, queues, clock }) });
  const postMetrics = postMetricsService({
    db,
    clock,
    log,
    readers: live.postMetrics,
    retryLater: async (request, delayMs, day) => {
      const jobId = postMetricsRetryJobId(request.platforms[0], request.campaignId, day, request.retry);
      await queues.get(postMetricsQueue).add(postMetricsQueue.jobName, postMetricsQueue.schema.parse(request), { jobId, delay: delayMs });
    },
  });
  const templates = templateService({ db, clock });
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
