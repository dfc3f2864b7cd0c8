import type { Knex } from 'knex';
import type { RedisClient } from '../redis/connection.js';
import type { Clock } from '../core/clock.js';
import { clockMinute, redisKeys } from '../redis/keys.js';
import { adjustAmount, takeHitAndAmount, windowCounterNames } from '../db/window-counter-store.js';

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
  /** The clock minute whose window it was taken from. */
  minute: number;
  tokens: number;
}

/** The LLM's per-minute budget, shared by every worker: reserve the worst case, then settle the real usage. */
export interface LlmBudget {
  /** Reserves one request and `tokens` in this minute, or nothing (undefined) when either limit would be passed. */
  reserve(tokens: number): Promise<BudgetReservation | undefined>;
  /** Corrects a reservation to the tokens really used. */
  settle(reservation: BudgetReservation, usedTokens: number): Promise<void>;
}

/**
 * The LLM's requests-per-minute and tokens-per-minute budget, shared by every worker: one Redis
 * hash per clock minute. A call first reserves its worst case (prompt estimate + max_tokens),
 * atomically against both limits, so concurrent workers can never overrun the budget; after the
 * call the reservation is corrected to the real usage.
 */
export function llmBudget(redis: RedisClient, prefix: string, limits: { rpm: number; tpm: number }, clock: Clock): LlmBudget {
  return {
    async reserve(tokens) {
      const minute = clockMinute(clock.now());
      const key = redisKeys.llmBudget(prefix, minute);
      const granted = (await redis.eval(reserveScript, 1, key, limits.rpm, limits.tpm, tokens)) as number;
      return granted === 1 ? { key, minute, tokens } : undefined;
    },
    async settle(reservation, usedTokens) {
      if (usedTokens !== reservation.tokens) await redis.hincrby(reservation.key, 'tokens', usedTokens - reservation.tokens);
    },
  };
}

/** The same budget in Postgres (`QUEUE_BACKEND=postgres`): one window counter, requests as hits and tokens as its amount. */
export function postgresLlmBudget(db: Knex, limits: { rpm: number; tpm: number }, clock: Clock): LlmBudget {
  const name = windowCounterNames.llmBudget();
  return {
    async reserve(tokens) {
      const minute = clockMinute(clock.now());
      const granted = await takeHitAndAmount(db, name, minute, { amount: tokens, maxHits: limits.rpm, maxAmount: limits.tpm });
      return granted ? { key: name, minute, tokens } : undefined;
    },
    async settle(reservation, usedTokens) {
      if (usedTokens !== reservation.tokens) await adjustAmount(db, reservation.key, reservation.minute, usedTokens - reservation.tokens);
    },
  };
}
