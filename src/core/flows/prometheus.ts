/**
 * Metrics in the Prometheus text exposition format, version 0.0.4: counters,
 * gauges and histograms with labels. Names and label names are checked when
 * a metric is registered, label sets when a value is recorded; HELP text and
 * label values are escaped as the format says.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type LabelValues = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Default histogram buckets (seconds), as the Prometheus client libraries use. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** A float as the format writes it: `+Inf`, `-Inf`, `NaN` or a decimal/exponent number. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** A label value between double quotes: `\`, `"` and newline escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: `\` and newline escaped (quotes stay as they are). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

type Kind = 'counter' | 'gauge' | 'histogram';

abstract class Metric<S> {
  protected readonly series = new Map<string, { labels: LabelValues; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly kind: Kind,
  ) {}

  protected abstract fresh(): S;
  abstract lines(): string[];

  protected stateOf(labels: LabelValues): S {
    const key = this.keyOf(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, state: this.fresh() };
      this.series.set(key, s);
    }
    return s.state;
  }

  /** Forgets every series (e.g. gauges recomputed at each scrape). */
  reset(): void {
    this.series.clear();
  }

  private keyOf(labels: LabelValues): string {
    const given = Object.keys(labels);
    const missing = this.labelNames.filter((n) => !(n in labels));
    const extra = given.filter((n) => !this.labelNames.includes(n));
    if (missing.length || extra.length) {
      const parts = [
        missing.length ? `missing ${missing.join(', ')}` : '',
        extra.length ? `unexpected ${extra.join(', ')}` : '',
      ].filter(Boolean);
      throw new RangeError(
        `metric ${this.name}: labels must be exactly {${this.labelNames.join(', ')}} (${parts.join('; ')})`,
      );
    }
    return JSON.stringify(this.labelNames.map((n) => labels[n]));
  }

  protected sorted(): { labels: LabelValues; state: S }[] {
    return [...this.series.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, s]) => s);
  }
}

function labelText(
  names: readonly string[],
  labels: LabelValues,
  extra?: [string, string],
): string {
  const parts = names.map((n) => `${n}="${escapeLabelValue(labels[n] as string)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class Counter extends Metric<{ value: number }> {
  protected fresh() {
    return { value: 0 };
  }

  inc(labels: LabelValues = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`counter ${this.name} can only go up (inc by ${by})`);
    this.stateOf(labels).value += by;
  }

  /** Sets a counter kept elsewhere (e.g. a reader's loss count); it must not go down. */
  set(labels: LabelValues, value: number): void {
    const s = this.stateOf(labels);
    if (!(value >= s.value))
      throw new RangeError(`counter ${this.name} can only go up (${s.value} -> ${value})`);
    s.value = value;
  }

  lines(): string[] {
    return this.sorted().map(
      (s) => `${this.name}${labelText(this.labelNames, s.labels)} ${formatValue(s.state.value)}`,
    );
  }
}

export class Gauge extends Metric<{ value: number }> {
  protected fresh() {
    return { value: 0 };
  }

  set(labels: LabelValues, value: number): void {
    this.stateOf(labels).value = value;
  }

  inc(labels: LabelValues = {}, by = 1): void {
    this.stateOf(labels).value += by;
  }

  lines(): string[] {
    return this.sorted().map(
      (s) => `${this.name}${labelText(this.labelNames, s.labels)} ${formatValue(s.state.value)}`,
    );
  }
}

export class Histogram extends Metric<{ counts: number[]; sum: number; count: number }> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames, 'histogram');
  }

  protected fresh() {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  observe(labels: LabelValues, value: number): void {
    if (Number.isNaN(value)) throw new RangeError(`histogram ${this.name}: cannot observe NaN`);
    const s = this.stateOf(labels);
    for (let i = 0; i < this.buckets.length; i++)
      if (value <= (this.buckets[i] as number)) s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count++;
  }

  lines(): string[] {
    const out: string[] = [];
    for (const s of this.sorted()) {
      this.buckets.forEach((b, i) => {
        const labels = labelText(this.labelNames, s.labels, ['le', formatValue(b)]);
        out.push(`${this.name}_bucket${labels} ${formatValue(s.state.counts[i] as number)}`);
      });
      const inf = labelText(this.labelNames, s.labels, ['le', '+Inf']);
      out.push(`${this.name}_bucket${inf} ${formatValue(s.state.count)}`);
      const plain = labelText(this.labelNames, s.labels);
      out.push(`${this.name}_sum${plain} ${formatValue(s.state.sum)}`);
      out.push(`${this.name}_count${plain} ${formatValue(s.state.count)}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric<unknown>>();
  private readonly collectors: (() => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, this.check(name, labelNames, 'counter'), 'counter'));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, this.check(name, labelNames, 'gauge'), 'gauge'));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = DEFAULT_BUCKETS,
  ): Histogram {
    const names = this.check(name, labelNames, 'histogram');
    if (names.includes('le')) throw new RangeError(`histogram ${name}: label "le" is reserved`);
    const finite = buckets.filter((b) => b !== Infinity);
    if (finite.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (finite[i - 1] as number))))
      throw new RangeError(`histogram ${name}: buckets must be finite and strictly increasing`);
    return this.add(new Histogram(name, help, names, finite));
  }

  /** Runs before each render: the place to copy values kept elsewhere into metrics. */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  /** The whole exposition, metrics in registration order, series sorted by labels. */
  render(): string {
    for (const c of this.collectors) c();
    const out: string[] = [];
    for (const m of this.metrics.values()) {
      out.push(`# HELP ${m.name} ${escapeHelp(m.help)}`);
      out.push(`# TYPE ${m.name} ${m.kind}`);
      out.push(...m.lines());
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }

  private check(name: string, labelNames: readonly string[], kind: Kind): readonly string[] {
    if (!METRIC_NAME.test(name))
      throw new RangeError(
        `${kind} ${JSON.stringify(name)}: name must match ${METRIC_NAME.source}`,
      );
    if (this.metrics.has(name)) throw new RangeError(`${kind} ${name}: already registered`);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__'))
        throw new RangeError(
          `${kind} ${name}: label name ${JSON.stringify(l)} must match ${LABEL_NAME.source} and not start with "__"`,
        );
    }
    if (new Set(labelNames).size !== labelNames.length)
      throw new RangeError(`${kind} ${name}: duplicate label names`);
    return [...labelNames];
  }

  private add<M extends Metric<unknown>>(m: M): M {
    this.metrics.set(m.name, m);
    return m;
  }
}
