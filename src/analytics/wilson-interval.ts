/** A proportion with its 95 % Wilson score interval. */
export interface RateInterval {
  rate: number;
  low: number;
  high: number;
}

/** z for a two-sided 95 % interval. */
const z95 = 1.959963984540054;

/**
 * The Wilson score interval of `successes` in `trials` (95 %): unlike the plain rate, it says
 * how little a handful of sends can tell (0 of 3 is 0–56 %, 0 of 300 is 0–1.3 %). Successes above
 * the trials are counted as the trials; no trials gives 0 with the interval 0–1.
 */
export function wilsonInterval(successes: number, trials: number): RateInterval {
  if (trials <= 0) return { rate: 0, low: 0, high: 1 };
  const k = Math.min(Math.max(successes, 0), trials);
  const p = k / trials;
  const z2 = z95 * z95;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z95 / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return { rate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** A rate as a percentage with one decimal (`12.5%`). */
export function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}
