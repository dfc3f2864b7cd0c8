import type { RedisClient } from '../redis/connection.js';
import type { Clock } from '../core/clock.js';
import { clockMinute, redisKeys } from '../redis/keys.js';

/** Reserves one request and `tokens` in the minute's window, or nothing when either would overflow. */
const reserveScript = `
local requests = tonumber(redis.call('HGET', KEYS[1], 'requests') or '0')
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or '0')
if requests + 1 > tonumber(ARGV[1]) or tokens + tonumber(ARGV[3]) > tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'requests', 1)
redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[3])
redis.call('PEXPIRE', KEYS[1], 120000)
return 1`;

/** A granted reservation; settle it with the tokens really used. */
export interface BudgetReservation {
  key: string;
  tokens: number;
}

/**
 * The LLM's requests-per-minute and tokens-per-minute budget, shared by every worker: one Redis
 * hash per clock minute. A call first reserves its worst case (prompt estimate + max_tokens),
 * atomically against both limits, so concurrent workers can never overrun the budget; after the
 * call the reservation is corrected to the real usage.
 */
export function llmBudget(redis: RedisClient, prefix: string, limits: { rpm: number; tpm: number }, clock: Clock) {
  return {
    async reserve(tokens: number): Promise<BudgetReservation | undefined> {
      const key = redisKeys.llmBudget(prefix, clockMinute(clock.now()));
      const granted = (await redis.eval(reserveScript, 1, key, limits.rpm, limits.tpm, tokens)) as number;
      return granted === 1 ? { key, tokens } : undefined;
    },
    async settle(reservation: BudgetReservation, usedTokens: number): Promise<void> {
      if (usedTokens !== reservation.tokens) await redis.hincrby(reservation.key, 'tokens', usedTokens - reservation.tokens);
    },
  };
}

export type LlmBudget = ReturnType<typeof llmBudget>;
