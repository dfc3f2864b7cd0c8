const unitMs: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration such as `500ms`, `30s`, `5m`, `2h`, `3d` or `1w` into milliseconds.
 * A bare number is milliseconds. Returns `undefined` for anything else, and for a duration
 * too long to count in whole milliseconds exactly (beyond 2^53 - 1 ms, or Infinity).
 */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d{1,30}(?:\.\d{1,30})?)\s*(ms|s|m|h|d|w)?\s*$/.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const factor = unitMs[unit];
  if (factor === undefined) return undefined;
  const ms = Math.round(amount * factor);
  return Number.isSafeInteger(ms) ? ms : undefined;
}
