import { escapeHtml } from '../core/message-body.js';
import { percent, type RateInterval } from './wilson-interval.js';

/**
 * Small inline SVG charts for the HTML report: no script, no external file or font, every label
 * escaped, so the page is one file that opens offline. Each chart is an `<svg role="img">` with
 * a `<title>`; the numbers are also in the tables beside it.
 */

/** One series of a bar chart. */
export interface BarSeries {
  name: string;
  color: string;
  values: readonly number[];
}

const font = 'font-family="system-ui, sans-serif" font-size="11"';

function legend(series: readonly BarSeries[], x: number, y: number): string {
  return series
    .map((item, index) => {
      const left = x + index * 130;
      return `<rect x="${left}" y="${y - 9}" width="10" height="10" fill="${item.color}"/><text x="${left + 14}" y="${y}" ${font}>${escapeHtml(item.name)}</text>`;
    })
    .join('');
}

/** A "nice" axis maximum at or above `value` (1, 2 or 5 times a power of ten). */
function niceMaximum(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/**
 * Grouped vertical bars: one group per category (a day, a step), one bar per series, with a
 * value axis from zero and the category labels below (thinned out when there are many).
 */
export function barChartSvg(options: { title: string; categories: readonly string[]; series: readonly BarSeries[] }): string {
  const { title, categories, series } = options;
  const width = 720;
  const height = 260;
  const left = 48;
  const top = 28;
  const bottom = 40;
  const plotWidth = width - left - 12;
  const plotHeight = height - top - bottom;
  const maximum = niceMaximum(Math.max(0, ...series.flatMap((item) => item.values)));
  const groupWidth = plotWidth / Math.max(categories.length, 1);
  const barWidth = Math.max(1, (groupWidth * 0.8) / Math.max(series.length, 1));
  const labelEvery = Math.max(1, Math.ceil(categories.length / 12));
  const bars = categories
    .map((category, index) => {
      const groupLeft = left + index * groupWidth + groupWidth * 0.1;
      const rects = series
        .map((item, s) => {
          const value = item.values[index] ?? 0;
          const barHeight = (value / maximum) * plotHeight;
          return `<rect x="${(groupLeft + s * barWidth).toFixed(1)}" y="${(top + plotHeight - barHeight).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${barHeight.toFixed(1)}" fill="${item.color}"><title>${escapeHtml(`${category}: ${item.name} ${value}`)}</title></rect>`;
        })
        .join('');
      const label =
        index % labelEvery === 0 ? `<text x="${(groupLeft + (groupWidth * 0.8) / 2).toFixed(1)}" y="${top + plotHeight + 14}" text-anchor="middle" ${font}>${escapeHtml(category)}</text>` : '';
      return rects + label;
    })
    .join('');
  const ticks = [0, 0.5, 1]
    .map((fraction) => {
      const y = top + plotHeight - fraction * plotHeight;
      return `<line x1="${left}" x2="${width - 12}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${left - 6}" y="${y + 4}" text-anchor="end" ${font}>${maximum * fraction}</text>`;
    })
    .join('');
  return `<svg role="img" class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${escapeHtml(title)}</title>${ticks}${bars}${legend(series, left, height - 8)}</svg>`;
}

/** Horizontal bars of rates with their 95 % intervals as whiskers, one row per label. */
export function rateChartSvg(options: { title: string; rows: ReadonlyArray<{ label: string; rate: RateInterval; note: string }> }): string {
  const { title, rows } = options;
  const width = 720;
  const rowHeight = 26;
  const left = 200;
  const plotWidth = width - left - 150;
  const height = 20 + rows.length * rowHeight + 10;
  const maximum = Math.min(1, niceMaximum(Math.max(0.01, ...rows.map((row) => row.rate.high))));
  const x = (value: number) => (left + (value / maximum) * plotWidth).toFixed(1);
  const body = rows
    .map((row, index) => {
      const y = 20 + index * rowHeight;
      const middle = y + rowHeight / 2;
      return [
        `<text x="${left - 8}" y="${middle + 4}" text-anchor="end" ${font}>${escapeHtml(row.label)}</text>`,
        `<rect x="${left}" y="${y + 5}" width="${(Number(x(row.rate.rate)) - left).toFixed(1)}" height="${rowHeight - 10}" fill="#4c78a8"><title>${escapeHtml(`${row.label}: ${percent(row.rate.rate)} (95% ${percent(row.rate.low)}–${percent(row.rate.high)}), ${row.note}`)}</title></rect>`,
        `<line x1="${x(row.rate.low)}" x2="${x(row.rate.high)}" y1="${middle}" y2="${middle}" stroke="#222"/>`,
        `<line x1="${x(row.rate.low)}" x2="${x(row.rate.low)}" y1="${middle - 5}" y2="${middle + 5}" stroke="#222"/>`,
        `<line x1="${x(row.rate.high)}" x2="${x(row.rate.high)}" y1="${middle - 5}" y2="${middle + 5}" stroke="#222"/>`,
        `<text x="${left + plotWidth + 8}" y="${middle + 4}" ${font}>${escapeHtml(`${percent(row.rate.rate)} · ${row.note}`)}</text>`,
      ].join('');
    })
    .join('');
  const axis = `<text x="${left}" y="12" ${font}>0%</text><text x="${left + plotWidth}" y="12" text-anchor="end" ${font}>${percent(maximum)}</text>`;
  return `<svg role="img" class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${escapeHtml(title)}</title>${axis}${body}</svg>`;
}
