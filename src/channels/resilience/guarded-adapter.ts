import { AmbiguousSendError, type ChannelAdapter } from '../adapter.js';
import type { BreakerRegistry } from './breakers.js';

/** Runs one provider call of an account (given the abort signal the guard controls), linked to a caller's signal. */
export type GuardedCall = <T>(call: (signal: AbortSignal) => Promise<T>, parent?: AbortSignal) => Promise<T>;

/**
 * The calls of one account behind its circuit breaker, with the send timeout: the one place a
 * send's or a post's timeout is enforced. The call's signal aborts when the timeout passes (or
 * the caller's signal does); a call that has not answered by then may still have reached the
 * provider, so it fails with {@link AmbiguousSendError} (UNKNOWN, never retried on our own),
 * and the breaker counts it as a failure. While the breaker is open, calls fail at once with
 * `CircuitOpenError` without reaching the provider.
 */
export function guardedCalls(breakers: BreakerRegistry, name: string, provider: string, timeoutMs: number): GuardedCall {
  return (call, parent) => breakers.run(name, call, timeoutMs, () => new AmbiguousSendError(`no answer from ${provider} within ${timeoutMs} ms`), parent);
}

/** An adapter behind its account's breaker and the send timeout (see {@link guardedCalls}). */
export function guardAdapter(adapter: ChannelAdapter, breakers: BreakerRegistry, channel: string, timeoutMs: number): ChannelAdapter {
  const name = `${channel}:${adapter.account ?? 'default'}`;
  const guarded = guardedCalls(breakers, name, adapter.provider, timeoutMs);
  return {
    provider: adapter.provider,
    ...(adapter.account === undefined ? {} : { account: adapter.account }),
    openUntil: () => breakers.openUntil(name),
    send: (message, context) => guarded((signal) => adapter.send(message, { signal }), context?.signal),
  };
}
