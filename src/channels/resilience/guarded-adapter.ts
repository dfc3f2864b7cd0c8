import { AmbiguousSendError, type ChannelAdapter } from '../adapter.js';
import type { BreakerRegistry } from './breakers.js';

/**
 * An adapter behind its account's circuit breaker, with a per-call timeout: a call that has not
 * answered within `timeoutMs` may still have reached the provider, so it is ambiguous. While the
 * breaker is open, `send` throws `CircuitOpenError` without calling the provider.
 */
export function guardAdapter(adapter: ChannelAdapter, breakers: BreakerRegistry, channel: string, timeoutMs: number): ChannelAdapter {
  const name = `${channel}:${adapter.account ?? 'default'}`;
  return {
    provider: adapter.provider,
    ...(adapter.account === undefined ? {} : { account: adapter.account }),
    openUntil: () => breakers.openUntil(name),
    send: (message, context) =>
      breakers.run(
        name,
        (signal) => adapter.send(message, { signal }),
        timeoutMs,
        () => new AmbiguousSendError(`no answer from ${adapter.provider} within ${timeoutMs} ms`),
        context.signal,
      ),
  };
}
