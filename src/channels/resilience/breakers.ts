import CircuitBreaker from 'opossum';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import { CircuitOpenError, PermanentSendError, RateLimitedError, SenderFaultError } from '../adapter.js';

/** One breaker's state as `/readyz` and the logs show it. */
export interface BreakerState {
  name: string;
  state: 'closed' | 'open' | 'half-open';
  /** When the state last changed (ISO). */
  since: string;
  /** While open: when a trial call will be let through (ISO). */
  retryAt?: string;
}

export interface BreakerOptions {
  errorPercent: number;
  volume: number;
  windowMs: number;
  resetMs: number;
}

/** The breaker settings of a config. */
export function breakerOptions(config: Pick<Config, 'BREAKER_ERROR_PERCENT' | 'BREAKER_VOLUME' | 'BREAKER_WINDOW' | 'BREAKER_RESET'>): BreakerOptions {
  return { errorPercent: config.BREAKER_ERROR_PERCENT, volume: config.BREAKER_VOLUME, windowMs: config.BREAKER_WINDOW, resetMs: config.BREAKER_RESET };
}

type Call = (signal: AbortSignal) => Promise<unknown>;

interface Entry {
  breaker: CircuitBreaker<[Call, AbortSignal], unknown>;
  state: BreakerState;
}

/**
 * A provider's answer about one request, not about the provider's health: a rate limit or a
 * permanent refusal (bad recipient) must not open the breaker. Nor must a sender fault (bad
 * credentials, a quota, the relay unreachable): it pauses the campaigns instead, and an open
 * breaker would only hold their sends again after the operator resumed them.
 */
function isHealthyFailure(error: unknown): boolean {
  return error instanceof RateLimitedError || error instanceof PermanentSendError || error instanceof SenderFaultError;
}

/**
 * One opossum circuit breaker per external account (`email:smtp.example.com`, `x:default`,
 * `llm:default`), created on first use. A call runs with its own timeout and abort signal —
 * opossum's own `timeout` shares one AbortController between all calls in flight, so the
 * timeout is applied here per call and the breaker counts each timeout as a failure. While a
 * breaker is open, calls fail at once with {@link CircuitOpenError} carrying the time of the
 * half-open trial, so callers can hold their jobs instead of failing them. State changes are
 * logged and handed to `onChange` (the context writes them to Redis for `/readyz`).
 */
export class BreakerRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: BreakerOptions,
    private readonly log: Logger,
    private readonly onChange: (state: BreakerState) => void = () => undefined,
  ) {}

  private entry(name: string): Entry {
    let entry = this.entries.get(name);
    if (entry !== undefined) return entry;
    const breaker = new CircuitBreaker<[Call, AbortSignal], unknown>((call: Call, signal: AbortSignal) => call(signal), {
      timeout: false,
      errorThresholdPercentage: this.options.errorPercent,
      volumeThreshold: this.options.volume,
      rollingCountTimeout: this.options.windowMs,
      resetTimeout: this.options.resetMs,
      errorFilter: isHealthyFailure,
    });
    const created: Entry = { breaker, state: { name, state: 'closed', since: new Date().toISOString() } };
    const change = (state: BreakerState['state']) => {
      const at = Date.now();
      created.state = {
        name,
        state,
        since: new Date(at).toISOString(),
        ...(state === 'open' ? { retryAt: new Date(at + this.options.resetMs).toISOString() } : {}),
      };
      const line = { breaker: name, state, retryAt: created.state.retryAt };
      if (state === 'open') this.log.warn(line, `circuit breaker ${name} opened: calls are held until ${created.state.retryAt}`);
      else this.log.info(line, `circuit breaker ${name} is ${state}`);
      this.onChange(created.state);
    };
    breaker.on('open', () => change('open'));
    breaker.on('halfOpen', () => change('half-open'));
    breaker.on('close', () => change('closed'));
    this.entries.set(name, created);
    entry = created;
    return entry;
  }

  /** When the named breaker is open: the time its trial call will be let through. */
  openUntil(name: string): Date | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined || !entry.breaker.opened) return undefined;
    return new Date(entry.state.retryAt ?? Date.now() + this.options.resetMs);
  }

  /**
   * Runs `call` through the named breaker with a per-call timeout. The signal given to `call`
   * aborts on timeout or when `parent` aborts; on timeout the call rejects with `onTimeout()`,
   * settled before the signal aborts, so a call that fails at once on abort cannot replace the
   * timeout's verdict (a send's timeout is ambiguous whatever the call was doing).
   * @throws CircuitOpenError while the breaker is open (nothing was called).
   */
  async run<T>(name: string, call: (signal: AbortSignal) => Promise<T>, timeoutMs: number, onTimeout: () => Error, parent?: AbortSignal): Promise<T> {
    const { breaker } = this.entry(name);
    const controller = new AbortController();
    const abort = () => controller.abort();
    parent?.addEventListener('abort', abort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timed: Call = (signal) =>
      Promise.race([
        call(signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(onTimeout());
            controller.abort();
          }, timeoutMs);
        }),
      ]);
    try {
      return (await breaker.fire(timed, controller.signal)) as T;
    } catch (error) {
      if ((error as { code?: string }).code === 'EOPENBREAKER') {
        throw new CircuitOpenError(`circuit breaker ${name} is open`, this.openUntil(name) ?? new Date(Date.now() + this.options.resetMs));
      }
      throw error;
    } finally {
      clearTimeout(timer);
      parent?.removeEventListener('abort', abort);
    }
  }

  /** Every breaker created in this process, with its state. */
  states(): BreakerState[] {
    return [...this.entries.values()].map((entry) => entry.state);
  }

  /** Stops the breakers' timers (part of the ordered shutdown). */
  shutdown(): void {
    for (const entry of this.entries.values()) entry.breaker.shutdown();
    this.entries.clear();
  }
}
