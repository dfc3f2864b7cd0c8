/**
 * A strict reader of the Prometheus text format (0.0.4), for tests: it refuses what a strict
 * scraper refuses — a family with a second `# HELP` or `# TYPE`, a TYPE after the family's
 * samples, samples of one family split by another, an invalid metric or label name, a label
 * repeated in a sample, a bad escape, a value that is not a number, the same series twice —
 * and returns every sample with its labels.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  help: Map<string, string>;
  types: Map<string, string>;
  samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const types = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function fail(lineNumber: number, line: string, why: string): never {
  throw new Error(`line ${lineNumber}: ${why}: ${JSON.stringify(line)}`);
}

function parseValue(text: string, lineNumber: number, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail(lineNumber, line, `"${text}" is not a number`);
  return Number(text);
}

function parseLabels(text: string, lineNumber: number, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let index = 1;
  for (;;) {
    if (text[index] === '}') return { labels, rest: text.slice(index + 1) };
    const name = labelName.exec(text.slice(index))?.[0];
    if (name === undefined) fail(lineNumber, line, 'bad label name');
    if (name in labels) fail(lineNumber, line, `label ${name} twice`);
    index += name.length;
    if (text.slice(index, index + 2) !== '="') fail(lineNumber, line, 'a label needs ="value"');
    index += 2;
    let value = '';
    for (;;) {
      const char = text[index];
      if (char === undefined) fail(lineNumber, line, 'unterminated label value');
      if (char === '"') break;
      if (char === '\\') {
        const next = text[index + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else fail(lineNumber, line, 'bad escape in a label value');
        index += 2;
        continue;
      }
      if (char === '\n') fail(lineNumber, line, 'raw line feed in a label value');
      value += char;
      index += 1;
    }
    labels[name] = value;
    index += 1;
    if (text[index] === ',') index += 1;
    else if (text[index] !== '}') fail(lineNumber, line, 'labels must be separated by commas');
  }
}

/** The family a sample name belongs to, given the declared types (histogram suffixes). */
function familyOf(name: string, declared: Map<string, string>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && (declared.get(base) === 'histogram' || declared.get(base) === 'summary')) return base;
  }
  return name;
}

export function parsePrometheusText(text: string): Exposition {
  const help = new Map<string, string>();
  const typesOf = new Map<string, string>();
  const samples: Sample[] = [];
  const series = new Set<string>();
  const finished = new Set<string>();
  const withSamples = new Set<string>();
  let current: string | undefined;
  const enter = (family: string, lineNumber: number, line: string) => {
    if (family === current) return;
    if (current !== undefined) finished.add(current);
    if (finished.has(family)) fail(lineNumber, line, `family ${family} appears in two places`);
    current = family;
  };
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  text.split('\n').forEach((line, index) => {
    const lineNumber = index + 1;
    if (line === '') return;
    if (line.startsWith('#')) {
      const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (comment === null) return;
      const [, keyword, name = '', rest = ''] = comment;
      if (metricName.exec(name)?.[0] !== name) fail(lineNumber, line, 'bad metric name');
      enter(name, lineNumber, line);
      if (keyword === 'HELP') {
        if (help.has(name)) fail(lineNumber, line, `second HELP for ${name}`);
        help.set(name, rest);
      } else {
        if (typesOf.has(name)) fail(lineNumber, line, `second TYPE for ${name}`);
        if (withSamples.has(name)) fail(lineNumber, line, `TYPE of ${name} after its samples`);
        if (!types.has(rest)) fail(lineNumber, line, `unknown type ${rest}`);
        typesOf.set(name, rest);
      }
      return;
    }
    const name = metricName.exec(line)?.[0];
    if (name === undefined) fail(lineNumber, line, 'a sample must start with a metric name');
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, lineNumber, line));
    const parts = rest.split(' ');
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3) fail(lineNumber, line, 'a sample is name{labels} value [timestamp]');
    const value = parseValue(parts[1] as string, lineNumber, line);
    const family = familyOf(name, typesOf);
    enter(family, lineNumber, line);
    withSamples.add(family);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) fail(lineNumber, line, 'the same series twice');
    series.add(key);
    samples.push({ name, labels, value });
  });
  return { help, types: typesOf, samples };
}

/** The value of the one sample with this name and exactly these labels. */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string>): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return exposition.samples.find((sample) => sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === wanted)?.value;
}
