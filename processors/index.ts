import type { z } from 'zod';
import type { ContextOf, ProcessorDefinition } from '../src/jobs/processor.js';
import campaignTick from './campaign-tick.js';
import compose from './compose.js';
import events from './events.js';
import importLeads from './import-leads.js';
import metricsRollup from './metrics-rollup.js';
import reconcile from './reconcile.js';
import postMetrics from './post-metrics.js';
import publishInstagram from './publish-instagram.js';
import publishLinkedin from './publish-linkedin.js';
import publishX from './publish-x.js';
import sendEmail from './send-email.js';
import sendInstagram from './send-instagram.js';
import sendLinkedin from './send-linkedin.js';
import sendX from './send-x.js';

const processors = [campaignTick, reconcile, sendEmail, sendLinkedin, sendX, sendInstagram, events, importLeads, publishLinkedin, publishX, publishInstagram, compose, metricsRollup, postMetrics] as const;

/** What the processors use of a worker's context, together: the composition root provides it. */
export type ProcessorContext = UnionToIntersection<ContextOf<(typeof processors)[number]>>;

type UnionToIntersection<Union> = (Union extends unknown ? (part: Union) => void : never) extends (all: infer All) => void ? All : never;

/** Every processor; the catalogue check pairs them with `queues/index.ts` at start-up. */
export const allProcessors: readonly ProcessorDefinition<z.ZodType, ProcessorContext>[] = processors;
