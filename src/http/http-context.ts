import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { CampaignService } from '../orchestration/campaign-service.js';
import type { TemplateService } from '../templates/template-service.js';
import type { ReviewService } from '../review/review-service.js';
import type { BreakerStateStore } from '../channels/resilience/breaker-states.js';
import type { FormRateLimit } from './forms/form-rate-limit.js';

/** What the HTTP routes use of a process's context; the composition root passes its own. */
export interface HttpContext {
  config: Config;
  log: Logger;
  clock: Clock;
  db: Knex;
  /** The circuit-breaker states the workers report, in the queue store's database. */
  breakerStates: BreakerStateStore;
  /** Form submissions per client IP and minute, shared by every API process. */
  formRateLimit: FormRateLimit;
  queues: QueueRegistry;
  campaigns: CampaignService;
  templates: TemplateService;
  reviews: ReviewService;
}
