import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { RedisClient } from '../redis/connection.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { CampaignService } from '../orchestration/campaign-service.js';
import type { TemplateService } from '../templates/template-service.js';
import type { ReviewService } from '../review/review-service.js';

/** What the HTTP routes use of a process's context; the composition root passes its own. */
export interface HttpContext {
  config: Config;
  log: Logger;
  clock: Clock;
  db: Knex;
  redis: RedisClient;
  queues: QueueRegistry;
  campaigns: CampaignService;
  templates: TemplateService;
  reviews: ReviewService;
}
