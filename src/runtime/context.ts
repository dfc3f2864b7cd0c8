import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { createDb } from '../db/knex.js';
import { QueueRegistry } from '../jobs/queue-registry.js';
import type { ConnectionRole } from '../redis/connection.js';
import { createQueueStore, type QueueStore } from '../jobs/queue-store.js';
import { jobPresence } from '../jobs/job-presence.js';
import { allQueues } from '../../queues/index.js';
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
import { postgresBreakerStates, redisBreakerStates, type BreakerStateStore } from '../channels/resilience/breaker-states.js';
import { buildLiveChannels, type PostPublisher, type SocialPlatform } from '../channels/live-channels.js';
import { domainThrottle, postgresDomainThrottle } from '../channels/email/domain-throttle.js';
import { contentCalendar, type ContentCalendar } from '../content/content-calendar.js';
import { composeService, type ComposeService } from '../llm/compose-service.js';
import { llmBudget, postgresLlmBudget } from '../llm/llm-budget.js';
import { llmClient } from '../llm/llm-client.js';
import { templateService, type TemplateService } from '../templates/template-service.js';
import { reviewService, type ReviewService } from '../review/review-service.js';
import { housekeeping, type Housekeeping } from '../maintenance/housekeeping.js';
import { postgresFormRateLimit, redisFormRateLimit, type FormRateLimit } from '../http/forms/form-rate-limit.js';

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
}

/** Builds the shared context of a process. */
export function createAppContext(config: Config, log: Logger, options: ContextOptions = {}): AppContext {
  const clock = options.clock ?? systemClock;
  const db = options.db ?? createDb(config);
  const role = options.redisRole ?? 'worker';
  const queueStore = createQueueStore(config, { role, queues: allQueues.length }, log);
  const onRedis = queueStore.kind === 'redis' ? queueStore.redis : undefined;
  const queues = new QueueRegistry(queueStore);
  const campaigns = campaignService({ db, queues, clock, log });
  const breakerStates = onRedis === undefined ? postgresBreakerStates(db, () => clock.now()) : redisBreakerStates(onRedis, config.QUEUE_PREFIX);
  const breakers = new BreakerRegistry(breakerOptions(config), log, (state) => {
    breakerStates.publish(state).catch((error: unknown) => log.warn({ err: error }, 'could not record a breaker state'));
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
    budget:
      onRedis === undefined
        ? postgresLlmBudget(db, { rpm: config.LLM_RPM, tpm: config.LLM_TPM }, clock)
        : llmBudget(onRedis, config.QUEUE_PREFIX, { rpm: config.LLM_RPM, tpm: config.LLM_TPM }, clock),
    llm:
      config.LLM_BASE_URL === undefined
        ? undefined
        : llmClient({ baseUrl: config.LLM_BASE_URL, apiKey: config.LLM_API_KEY, model: config.LLM_MODEL, maxTokens: config.LLM_MAX_TOKENS, timeoutMs: config.LLM_TIMEOUT }),
  });
  const ticks = tickService({ db, queues, clock, log, config, campaigns, content, compose });
  const liveAdapters = options.liveAdapters ?? live.adapters;
  const perDomain = config.EMAIL_DOMAIN_PER_MINUTE;
  const throttle =
    perDomain === undefined
      ? undefined
      : onRedis === undefined
        ? postgresDomainThrottle(db, perDomain, clock)
        : domainThrottle(onRedis, config.QUEUE_PREFIX, perDomain, clock);
  const sends = sendService({ db, config, clock, log, liveAdapters, proof: proofAdapter(db), campaigns, ...(throttle === undefined ? {} : { domainThrottle: throttle }) });
  const reconciler = reconcilerService({ db, queues, clock, log, config, campaigns, jobs: jobPresence(queueStore), inbox: inboxService({ db, queues, clock }) });
  const formRateLimit =
    onRedis === undefined
      ? postgresFormRateLimit(db, config.FORM_RATE_PER_MINUTE, clock)
      : redisFormRateLimit(onRedis, config.QUEUE_PREFIX, config.FORM_RATE_PER_MINUTE, clock);
  const templates = templateService({ db, clock });
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
    liveAdapters,
    publishers,
    content,
    compose,
    breakers,
    async close() {
      breakers.shutdown();
      await queues.close();
      await queueStore.close();
      if (options.db === undefined) await db.destroy();
    },
  };
}
