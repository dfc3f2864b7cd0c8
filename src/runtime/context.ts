import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { createDb } from '../db/knex.js';
import { QueueRegistry } from '../jobs/queue-registry.js';
import type { ConnectionRole } from '../redis/connection.js';
import { createQueueStore, type QueueStore } from '../jobs/queue-store.js';
import { jobPresence } from '../jobs/job-presence.js';
import { allQueues, queueDirectory } from '../../queues/index.js';
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
import { postgresBreakerStates, redisBreakerStates, type BreakerStateStore } from '../channels/resilience/breaker-states.js';
import { buildLiveChannels, type PostPublisher } from '../channels/live-channels.js';
import type { SocialPlatform } from '../core/channels.js';
import { domainThrottle, postgresDomainThrottle, type DomainThrottle } from '../channels/email/domain-throttle.js';
import { contentCalendar, type ContentCalendar } from '../content/content-calendar.js';
import { composeService, type ComposeService } from '../llm/compose-service.js';
import { llmBudget, postgresLlmBudget, type LlmBudget } from '../llm/llm-budget.js';
import { llmClient } from '../llm/llm-client.js';
import { findCampaign } from '../campaigns/campaign-store.js';
import { templateService, type TemplateService } from '../templates/template-service.js';
import { reviewService, type ReviewService } from '../review/review-service.js';
import { housekeeping, type Housekeeping } from '../maintenance/housekeeping.js';
import { postgresFormRateLimit, redisFormRateLimit, type FormRateLimit } from '../http/forms/form-rate-limit.js';
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
  /** Where the queues live (`QUEUE_BACKEND`): Redis, or BullMQ's Postgres backend (then no Redis connection exists). */
  queueStore: QueueStore;
  queues: QueueRegistry;
  /** The circuit-breaker states the workers report, in the queue store's database. */
  breakerStates: BreakerStateStore;
  /** Form submissions per client IP and minute, shared by every API process. */
  formRateLimit: FormRateLimit;
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
   * Shuts the breakers, closes the queues, the queue store's connection and the database pool (unless it
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

/**
 * The counters and states every process shares, in the queue store's database: Redis under
 * `QUEUE_PREFIX`, or Postgres tables when the queues run on Postgres (no Redis then).
 */
interface SharedStores {
  breakerStates: BreakerStateStore;
  llmBudget: LlmBudget;
  domainThrottle: DomainThrottle | undefined;
  formRateLimit: FormRateLimit;
}

function sharedStores(queueStore: QueueStore, db: Knex, config: Config, clock: Clock): SharedStores {
  const limits = { rpm: config.LLM_RPM, tpm: config.LLM_TPM };
  const perDomain = config.EMAIL_DOMAIN_PER_MINUTE;
  if (queueStore.kind === 'postgres') {
    return {
      breakerStates: postgresBreakerStates(db, () => clock.now()),
      llmBudget: postgresLlmBudget(db, limits, clock),
      domainThrottle: perDomain === undefined ? undefined : postgresDomainThrottle(db, perDomain, clock),
      formRateLimit: postgresFormRateLimit(db, config.FORM_RATE_PER_MINUTE, clock),
    };
  }
  const { redis } = queueStore;
  const prefix = config.QUEUE_PREFIX;
  return {
    breakerStates: redisBreakerStates(redis, prefix),
    llmBudget: llmBudget(redis, prefix, limits, clock),
    domainThrottle: perDomain === undefined ? undefined : domainThrottle(redis, prefix, perDomain, clock),
    formRateLimit: redisFormRateLimit(redis, prefix, config.FORM_RATE_PER_MINUTE, clock),
  };
}

/** The LLM personalisation service, with its client when `LLM_BASE_URL` is set and its budget in the queue store. */
function buildComposeService(deps: { db: Knex; queues: QueueRegistry; config: Config; clock: Clock; log: Logger; breakers: BreakerRegistry; budget: LlmBudget }) {
  const { config } = deps;
  return composeService({
    ...deps,
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
  const role = options.redisRole ?? 'worker';
  const queueStore = createQueueStore(config, { role, queues: allQueues.length }, log);
  const queues = new QueueRegistry(queueStore, queueDirectory);
  const shared = sharedStores(queueStore, db, config, clock);
  const campaigns = campaignService({ db, queues, clock, log });
  const { breakerStates, formRateLimit } = shared;
  const breakers = new BreakerRegistry(breakerOptions(config), log, (state) => {
    breakerStates.publish(state).catch((error: unknown) => log.warn({ err: error }, 'could not record a breaker state'));
  });
  const live = buildLiveChannels(config, breakers);
  const publishers = options.publishers ?? live.publishers;
  const content = contentCalendar({ db, queues, clock, log, publishers, campaigns });
  const compose = buildComposeService({ db, queues, config, clock, log, breakers, budget: shared.llmBudget });
  const ticks = tickService({ db, queues, clock, log, config, campaigns, content, compose, ...(options.random === undefined ? {} : { random: options.random }) });
  const liveAdapters = options.liveAdapters ?? live.adapters;
  const throttle = shared.domainThrottle;
  const metrics = workerMetrics();
  const sends = sendService({ db, config, clock, log, liveAdapters, proof: proofAdapter(db), campaigns, metrics, ...(throttle === undefined ? {} : { domainThrottle: throttle }) });
  const reconciler = reconcilerService({ db, queues, clock, log, config, campaigns, jobs: jobPresence(queueStore), inbox: inboxService({ db, queues, clock }) });
  const postMetrics = buildPostMetricsService({ db, clock, log, queues, readers: live.postMetrics });
  const templates = templateService({ db, clock, campaignExists: async (id) => (await findCampaign(db, id)) !== undefined });
  const reviews = reviewService({ db, queues, config, clock, log });
  return {
    config,
    log,
    clock,
    db,
    queueStore,
    queues,
    breakerStates,
    formRateLimit,
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
      await queueStore.close();
      if (options.db === undefined) await db.destroy();
    },
  };
}
