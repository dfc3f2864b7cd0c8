import { z } from 'zod';

/**
 * An entity id as a path or query parameter: plain digits only (no sign, space, exponent or
 * hex that a coercion would accept), a positive whole number up to 2^53 − 1 (ids are bigint;
 * JavaScript counts them exactly up to there).
 */
export const entityId = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'a positive whole number')
  .transform(Number)
  .pipe(z.number().max(Number.MAX_SAFE_INTEGER, 'at most 9007199254740991'));

/** A keyset cursor as a query parameter: the last id seen, or 0 to start. Plain digits, like ids. */
export const cursorId = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,15})$/, 'a whole number, 0 or more')
  .transform(Number)
  .pipe(z.number().max(Number.MAX_SAFE_INTEGER, 'at most 9007199254740991'));

/** `:id` route parameters. */
export const idParam = z.object({ id: entityId });

/** A step number (1-based) or a page size as a query parameter: plain digits, at most 4 of them. */
export const smallCount = z
  .string()
  .regex(/^[1-9][0-9]{0,3}$/, 'a positive whole number below 10000')
  .transform(Number);
