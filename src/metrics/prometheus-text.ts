/**
 * The Prometheus text exposition format (version 0.0.4): escaping, and merging expositions so
 * that each metric family has one `# HELP` and one `# TYPE` line followed by all its samples
 * (strict parsers refuse a family declared twice, as BullMQ's per-queue output would be).
 */

/** The content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Refuses a metric or label name the format does not allow (a programming error). */
export function checkName(name: string, kind: 'metric' | 'label'): string {
  if (!(kind === 'metric' ? metricName : labelName).test(name) || (kind === 'label' && name.startsWith('__'))) {
    throw new Error(`not a valid Prometheus ${kind} name: ${JSON.stringify(name)}`);
  }
  return name;
}

/** A label value inside its double quotes: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as the format writes it (`+Inf`, `-Inf`, `NaN` for the special ones). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** `name{a="x",b="y"} value`, labels in the order given. */
export function sampleLine(name: string, labels: ReadonlyArray<readonly [string, string]>, value: number): string {
  const rendered = labels.map(([label, labelValue]) => `${label}="${escapeLabelValue(labelValue)}"`).join(',');
  return `${name}${rendered === '' ? '' : `{${rendered}}`} ${formatValue(value)}`;
}

interface Family {
  help?: string;
  type?: string;
  samples: string[];
}

/** The family a sample belongs to: its metric name without a histogram or summary suffix it was declared without. */
function familyOf(sampleName: string, families: Map<string, Family>): string {
  if (families.has(sampleName)) return sampleName;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix) && families.has(sampleName.slice(0, -suffix.length))) return sampleName.slice(0, -suffix.length);
  }
  return sampleName;
}

/**
 * Merges expositions (BullMQ's, one per queue, and drumbeat's own): every family once, with the
 * first HELP and TYPE seen for it and the samples of every input, in the order families first
 * appear. Blank lines and other comments are dropped.
 */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let found = families.get(name);
    if (found === undefined) {
      found = { samples: [] };
      families.set(name, found);
    }
    return found;
  };
  for (const text of texts) {
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      const comment = /^#\s*(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (comment !== null) {
        const [, keyword, name = '', rest = ''] = comment;
        const declared = family(name);
        if (keyword === 'HELP') declared.help ??= rest;
        else declared.type ??= rest;
        continue;
      }
      if (line.startsWith('#')) continue;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
      if (name === undefined) continue;
      family(familyOf(name, families)).samples.push(normaliseSample(line, name));
    }
  }
  const out: string[] = [];
  for (const [name, { help, type, samples }] of families) {
    if (help !== undefined) out.push(`# HELP ${name} ${help}`);
    if (type !== undefined) out.push(`# TYPE ${name} ${type}`);
    out.push(...samples);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** A sample with the blanks BullMQ writes after the commas between labels removed (`{a="x", b="y"}`). */
function normaliseSample(line: string, name: string): string {
  if (line[name.length] !== '{') return line;
  let out = `${name}{`;
  let index = name.length + 1;
  let inValue = false;
  for (; index < line.length; index += 1) {
    const char = line[index] as string;
    if (inValue) {
      out += char;
      if (char === '\\') {
        index += 1;
        out += line[index] ?? '';
      } else if (char === '"') inValue = false;
      continue;
    }
    if (char === ' ' || char === '\t') continue;
    out += char;
    if (char === '"') inValue = true;
    if (char === '}') break;
  }
  return `${out}${line.slice(index + 1)}`;
}
