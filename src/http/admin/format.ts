/** Small formatters the console's views share, so every page writes times and durations alike. */
export const viewFormat = {
  /** A moment as `2026-12-01 14:05 UTC`; a dash for none. */
  time(value: Date | string | null | undefined): string {
    if (value === null || value === undefined) return '—';
    const date = typeof value === 'string' ? new Date(value) : value;
    return Number.isNaN(date.getTime()) ? '—' : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  },

  /** A duration in the largest whole unit that fits (`3 days`, `90 minutes`, `2 seconds`, `none`). */
  duration(ms: number): string {
    if (ms <= 0) return 'none';
    const units: Array<[number, string]> = [
      [7 * 86_400_000, 'week'],
      [86_400_000, 'day'],
      [3_600_000, 'hour'],
      [60_000, 'minute'],
      [1000, 'second'],
    ];
    for (const [size, name] of units) {
      if (ms % size === 0) return `${ms / size} ${name}${ms / size === 1 ? '' : 's'}`;
    }
    return `${ms} ms`;
  },

  /** `part` of `whole` as a whole percentage (0 when there is nothing). */
  percent(part: number, whole: number): number {
    return whole === 0 ? 0 : Math.round((part / whole) * 100);
  },
};
