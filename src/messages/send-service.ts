import { DeliveryPipeline, WorkerStopping } from '../delivery/delivery-pipeline.js';
import type { DeliveryDecision } from '../delivery/delivery-decision.js';
import type { AttemptInfo } from '../jobs/job-decision.js';
import { SendRoute, type SendRouteDeps } from './send-route.js';

export type SendServiceDeps = SendRouteDeps;

/**
 * Sends messages through the delivery pipeline (see {@link SendRoute} for what a message's
 * delivery reads, gates, claims, calls and records).
 */
export function sendService(deps: SendServiceDeps) {
  const route = new SendRoute(deps);
  const pipeline = new DeliveryPipeline(route, deps);
  return {
    /** Sends one message if every gate allows it now, and records the outcome. */
    send(messageId: number, attempt: AttemptInfo): Promise<DeliveryDecision> {
      return pipeline.deliver(messageId, attempt);
    },

    /**
     * At shutdown: the LIVE sends waiting for a call slot give their jobs back (held, QUEUED)
     * instead of keeping the worker open until every one of them has had its turn.
     */
    releaseWaitingSends(): void {
      route.turnAwayWaiting(new WorkerStopping());
    },
  };
}

export type SendService = ReturnType<typeof sendService>;
