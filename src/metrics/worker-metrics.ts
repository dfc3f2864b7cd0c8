import { MetricsRegistry } from './metrics-registry.js';

/** How an adapter call of a send ended: the message SENT (or SENT_PROOF), or where the failure left it. */
export type SendOutcome = 'sent' | 'unknown' | 'waiting' | 'retrying' | 'dead';

/** Bounds of the adapter call histogram, in seconds: an SMTP conversation or an API call, up to the send timeout. */
const adapterCallBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The counters and histograms of one process, for Prometheus to sum across processes: each
 * worker exposes its own on `WORKER_METRICS_PORT`. Counting costs a map lookup, nothing on
 * the network.
 */
export function workerMetrics() {
  const registry = new MetricsRegistry();
  return {
    registry,
    /** Adapter calls of sends, by channel, mode and outcome. */
    sends: registry.counter('drumbeat_sends_total', 'Send adapter calls by channel, campaign mode and outcome (sent, unknown, waiting, retrying, dead)', [
      'channel',
      'mode',
      'outcome',
    ] as const),
    /** How long LIVE adapter calls took, by channel. */
    adapterCalls: registry.histogram('drumbeat_adapter_call_seconds', 'Duration of LIVE send adapter calls (SMTP conversation or platform request), by channel', ['channel'] as const, adapterCallBuckets),
    /** Inbox events applied, by timeline type (`bounced_hard`, `complained`, `replied`, …). */
    eventsApplied: registry.counter('drumbeat_events_applied_total', 'Inbox events applied to leads, by type', ['type'] as const),
  };
}

export type WorkerMetrics = ReturnType<typeof workerMetrics>;

