import { escapeHtml } from '../core/message-body.js';
import type { CampaignReport } from './campaign-report.js';
import { OUTCOME_KEYS, type OutcomeCounts, type SourceOutcome } from './report-sections.js';
import { barChartSvg, rateChartSvg } from './svg-charts.js';
import { percent, type RateInterval } from './wilson-interval.js';

const colors = { sent: '#4c78a8', replied: '#54a24b', bounced: '#e45756', delivered: '#72b7b2', opened: '#f58518' };

type Cell = string | number | null;

/** A table: every cell escaped; numbers right-aligned. An empty table says "none". */
function table(head: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  const cell = (value: Cell, tag: 'td' | 'th') => `<${tag}${typeof value === 'number' ? ' class="n"' : ''}>${escapeHtml(value === null ? '' : String(value))}</${tag}>`;
  return `<table><thead><tr>${head.map((name) => cell(name, 'th')).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((value) => cell(value, 'td')).join('')}</tr>`).join('')}</tbody></table>`;
}

const outcomeHead = ['sent', 'proof', 'failed', 'skipped', 'delivered', 'opened', 'clicked', 'replied', 'bounced hard', 'bounced soft', 'complained', 'unsubscribed'];
const outcomes = (counts: OutcomeCounts): number[] => OUTCOME_KEYS.map((key) => counts[key]);
const rate = (interval: RateInterval) => `${percent(interval.rate)} (95% ${percent(interval.low)}–${percent(interval.high)})`;
const creditHead = ['leads', 'replied', 'bounced hard', 'bounced soft', 'complained', 'unsubscribed'];
const credited = (row: SourceOutcome): number[] => [row.leads, row.replied, row.bouncedHard, row.bouncedSoft, row.complained, row.unsubscribed];

const style = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; } td.n, th.n { text-align: right; }
.none { color: #666; font-style: italic; } .paused { background: #fff3cd; padding: 0.5rem; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 0.5rem 0; }
`;

/**
 * The report's three charts as inline SVG (daily outcomes, the step funnel, the variants' reply
 * rates), every value from the record escaped: for this page and the console's campaign page.
 */
export function reportCharts(report: CampaignReport): { daily: string; funnel: string; variants: string } {
  const daily = barChartSvg({
    title: 'Daily sends, replies and bounces',
    categories: report.daily.map((day) => day.day),
    series: [
      { name: 'sent', color: colors.sent, values: report.daily.map((day) => day.sent) },
      { name: 'replied', color: colors.replied, values: report.daily.map((day) => day.replied) },
      { name: 'bounced', color: colors.bounced, values: report.daily.map((day) => day.bouncedHard + day.bouncedSoft) },
    ],
  });
  const funnel = barChartSvg({
    title: 'Step funnel: sent, delivered, opened and replied per step',
    categories: report.funnel.map((step) => `step ${step.step} (${step.channel})`),
    series: [
      { name: 'sent', color: colors.sent, values: report.funnel.map((step) => step.sent) },
      { name: 'delivered', color: colors.delivered, values: report.funnel.map((step) => step.delivered) },
      { name: 'opened', color: colors.opened, values: report.funnel.map((step) => step.opened) },
      { name: 'replied', color: colors.replied, values: report.funnel.map((step) => step.replied) },
    ],
  });
  const variants =
    report.variants.length === 0
      ? '<p class="none">none</p>'
      : rateChartSvg({
          title: 'Reply rate per variant, with 95% intervals',
          rows: report.variants.map((row) => ({ label: `step ${row.step} ${row.variant}${row.angle === null ? '' : ` (${row.angle})`}`, rate: row.replyRate, note: `${row.replied}/${row.sent}` })),
        });
  return { daily, funnel, variants };
}

/** The tables of channels, segments, attribution, guard events and post metrics. */
function learningTables(report: CampaignReport): string {
  const { attribution } = report;
  return `<h2>Channels</h2>
${table(['channel', ...outcomeHead, 'reply rate'], report.channels.map((row) => [row.channel, ...outcomes(row), rate(row.replyRate)]))}
<h2>Segments</h2>
${table(['segment', 'leads', ...outcomeHead, 'reply rate'], report.segments.map((row) => [row.segment, row.leads, ...outcomes(row), rate(row.replyRate)]))}
<h2>Attribution by source</h2>
${table(['source', ...creditHead], attribution.bySource.map((row) => [row.source, ...credited(row)]))}
<h2>Attribution by UTM</h2>
${table(['utm_source', 'utm_campaign', ...creditHead], attribution.byUtm.map((row) => [row.utmSource, row.utmCampaign, ...credited(row)]))}
<h2>First and last touch</h2>
${table(['touch', 'channel', 'leads'], [...attribution.firstTouch.map((row) => ['first', row.channel, row.leads]), ...attribution.lastTouch.map((row) => ['last', row.channel, row.leads])])}
<h2>Guard events</h2>
${table(['at', 'what'], report.guardEvents.map((event) => [event.at, event.summary]))}
<h2>Post metrics</h2>
${table(['post', 'platform', 'day', 'metrics'], report.postMetrics.map((row) => [row.post, row.platform, row.day, Object.entries(row.metrics).map(([metric, value]) => `${metric} ${value}`).join(', ')]))}`;
}

/**
 * The report as one self-contained HTML page: inline CSS and inline SVG charts (daily sends,
 * replies and bounces; the step funnel; the variants' reply rates with their intervals), no
 * script and no external URL, so it can be mailed or opened offline. Every value from the
 * record (names, reasons, segments, sources) is HTML-escaped.
 */
export function reportToHtml(report: CampaignReport): string {
  const { campaign, totals } = report;
  const name = escapeHtml(campaign.name);
  const { daily, funnel, variants } = reportCharts(report);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Campaign report: ${name}</title>
<style>${style}</style>
</head>
<body>
<h1>Campaign report: ${name}</h1>
<p>Campaign ${campaign.id} · status ${escapeHtml(campaign.status)} · mode ${escapeHtml(campaign.mode)} · ${totals.leads} lead(s), ${totals.messages} message(s)</p>
${campaign.pauseReason === null ? '' : `<p class="paused"><strong>Paused by drumbeat:</strong> ${escapeHtml(campaign.pauseReason)}</p>`}
<h2>Next actions</h2>
<ul>${report.nextActions.map((action) => `<li>${escapeHtml(action)}</li>`).join('')}</ul>
<h2>Daily</h2>
${daily}
${table(['day', ...outcomeHead], report.daily.map((day) => [day.day, ...outcomes(day)]))}
<h2>Step funnel</h2>
${funnel}
${table(['step', 'channel', ...outcomeHead, 'reply rate'], report.funnel.map((step) => [step.step, step.channel, ...outcomes(step), rate(step.replyRate)]))}
<h2>Variants</h2>
${variants}
${table(['step', 'variant', 'angle', 'selection', 'sent', 'replied', 'reply rate'], report.variants.map((row) => [row.step, row.variant, row.angle, row.selection, row.sent, row.replied, rate(row.replyRate)]))}
${learningTables(report)}
<h2>Messages by status</h2>
${table(['metric', 'count'], Object.entries(totals).map(([key, value]) => [key, value]))}
${table(['step', 'channel', 'messages', 'sent', 'sentProof', 'queued', 'skipped', 'dead', 'unknown'], report.bySteps.map((step) => [step.step, step.channel, step.messages, step.sent, step.sentProof, step.queued, step.skipped, step.dead, step.unknown]))}
<h2>Skip reasons</h2>
${table(['reason', 'count'], report.skipReasons.map((row) => [row.reason, row.count]))}
</body>
</html>
`;
}
