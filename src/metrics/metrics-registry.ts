import { checkName, escapeHelp, sampleLine } from './prometheus-text.js';

type Labels<Name extends string> = Readonly<Record<Name, string>>;

/** What every metric family has: its name, help, type and label names, and its samples as text. */
interface Family {
  readonly name: string;
  lines(): string[];
}

/** The key of one label set: the values in the family's label order. */
function keyOf<Name extends string>(labelNames: readonly Name[], labels: Labels<Name>): string {
  return labelNames.map((name) => labels[name]).join('\u0000');
}

function pairs<Name extends string>(labelNames: readonly Name[], labels: Labels<Name>): Array<readonly [string, string]> {
  return labelNames.map((name) => [name, labels[name]] as const);
}

abstract class LabelledFamily<Name extends string, Value> implements Family {
  protected readonly series = new Map<string, { labels: Labels<Name>; value: Value }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly Name[],
  ) {
    checkName(name, 'metric');
    for (const label of labelNames) checkName(label, 'label');
  }

  protected abstract readonly type: string;
  protected abstract initial(): Value;
  protected abstract samples(labels: Labels<Name>, value: Value): string[];

  protected entry(labels: Labels<Name>): { labels: Labels<Name>; value: Value } {
    const key = keyOf(this.labelNames, labels);
    let found = this.series.get(key);
    if (found === undefined) {
      found = { labels: { ...labels }, value: this.initial() };
      this.series.set(key, found);
    }
    return found;
  }

  lines(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.series.values()) out.push(...this.samples(labels, value));
    return out;
  }
}

/** A value that only goes up (resets when the process restarts). */
export class Counter<Name extends string = never> extends LabelledFamily<Name, { count: number }> {
  protected readonly type = 'counter';

  protected initial() {
    return { count: 0 };
  }

  protected samples(labels: Labels<Name>, value: { count: number }): string[] {
    return [sampleLine(this.name, pairs(this.labelNames, labels), value.count)];
  }

  inc(labels: Labels<Name>, by = 1): void {
    this.entry(labels).value.count += by;
  }

  /** The current count of one label set (0 when never incremented). */
  get(labels: Labels<Name>): number {
    return this.series.get(keyOf(this.labelNames, labels))?.value.count ?? 0;
  }
}

/** A value set to what it is now. */
export class Gauge<Name extends string = never> extends LabelledFamily<Name, { current: number }> {
  protected readonly type = 'gauge';

  protected initial() {
    return { current: 0 };
  }

  protected samples(labels: Labels<Name>, value: { current: number }): string[] {
    return [sampleLine(this.name, pairs(this.labelNames, labels), value.current)];
  }

  set(labels: Labels<Name>, value: number): void {
    this.entry(labels).value.current = value;
  }
}

interface HistogramValue {
  buckets: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative `le` buckets, with their sum and count. */
export class Histogram<Name extends string = never> extends LabelledFamily<Name, HistogramValue> {
  protected readonly type = 'histogram';
  private readonly bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly Name[], buckets: readonly number[]) {
    super(name, help, labelNames);
    if ((labelNames as readonly string[]).includes('le')) throw new Error('a histogram may not have a label named le');
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  protected initial(): HistogramValue {
    return { buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
  }

  protected samples(labels: Labels<Name>, value: HistogramValue): string[] {
    const base = pairs(this.labelNames, labels);
    const out = this.bounds.map((bound, index) => sampleLine(`${this.name}_bucket`, [...base, ['le', String(bound)]], value.buckets[index] ?? 0));
    out.push(sampleLine(`${this.name}_bucket`, [...base, ['le', '+Inf']], value.count));
    out.push(sampleLine(`${this.name}_sum`, base, value.sum));
    out.push(sampleLine(`${this.name}_count`, base, value.count));
    return out;
  }

  observe(labels: Labels<Name>, value: number): void {
    const entry = this.entry(labels).value;
    // Buckets are cumulative: an observation counts in every bucket whose bound it does not exceed.
    for (let index = 0; index < this.bounds.length; index += 1) if (value <= (this.bounds[index] as number)) entry.buckets[index] = (entry.buckets[index] ?? 0) + 1;
    entry.sum += value;
    entry.count += 1;
  }

  /** How many observations one label set has. */
  count(labels: Labels<Name>): number {
    return this.series.get(keyOf(this.labelNames, labels))?.value.count ?? 0;
  }
}

/**
 * A small in-process registry: counters, gauges and histograms with labels, written as the
 * Prometheus text format. Families register once; their series appear as they are first used.
 */
export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  private add<F extends Family>(family: F): F {
    if (this.families.has(family.name)) throw new Error(`metric ${family.name} is registered twice`);
    this.families.set(family.name, family);
    return family;
  }

  counter<Name extends string = never>(name: string, help: string, labelNames: readonly Name[] = []): Counter<Name> {
    return this.add(new Counter<Name>(name, help, labelNames));
  }

  gauge<Name extends string = never>(name: string, help: string, labelNames: readonly Name[] = []): Gauge<Name> {
    return this.add(new Gauge<Name>(name, help, labelNames));
  }

  histogram<Name extends string = never>(name: string, help: string, labelNames: readonly Name[], buckets: readonly number[]): Histogram<Name> {
    return this.add(new Histogram<Name>(name, help, labelNames, buckets));
  }

  /** Every family in the text format, in registration order. */
  exposition(): string {
    const lines = [...this.families.values()].flatMap((family) => family.lines());
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }
}
