import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type Component, METRICS, type MetricDefinition } from './metric-catalog';

type Catalog = typeof METRICS;
type KeysOfType<T extends MetricDefinition['type']> = {
  [K in keyof Catalog]: Catalog[K]['type'] extends T ? K : never;
}[keyof Catalog];
type LabelName<K extends keyof Catalog> = Catalog[K]['labels'][number];
/** The labels of a catalog metric, all required (a missing label would be a second series). */
export type LabelsOf<K extends keyof Catalog> = [LabelName<K>] extends [never]
  ? Record<string, never>
  : Record<LabelName<K>, string>;

/** A refresh run before each scrape (gauges read from PostgreSQL / Redis); bounded by a timeout. */
export type Collector = () => Promise<void> | void;

const COLLECT_TIMEOUT_MS = 5_000;

/**
 * One prom-client registry per process: the default process metrics, `agentfleet_build_info`, and the
 * catalog's metrics of this component, created on first use with the catalog's labels and buckets.
 * Collectors refresh gauges before a scrape; one that fails or hangs is logged by the caller's
 * `onCollectError` and leaves its gauges as they were, so a scrape never fails as a whole.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly made = new Map<string, Counter | Gauge | Histogram>();
  private readonly collectors: Collector[] = [];

  constructor(
    readonly component: Component,
    version: string,
    private readonly onCollectError: (e: unknown) => void = () => undefined,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.gauge('buildInfo').set({ component, version }, 1);
  }

  counter<K extends KeysOfType<'counter'>>(key: K): Counter<LabelName<K>> {
    return this.make(key) as Counter<LabelName<K>>;
  }

  gauge<K extends KeysOfType<'gauge'>>(key: K): Gauge<LabelName<K>> {
    return this.make(key) as Gauge<LabelName<K>>;
  }

  histogram<K extends KeysOfType<'histogram'>>(key: K): Histogram<LabelName<K>> {
    return this.make(key) as Histogram<LabelName<K>>;
  }

  /** Registers every catalog metric of this component now, so each appears in /metrics from the start. */
  registerAll(): this {
    for (const [key, d] of Object.entries(METRICS) as [keyof Catalog, MetricDefinition][])
      if (d.component === this.component || d.component === 'both') this.make(key);
    return this;
  }

  addCollector(c: Collector): void {
    this.collectors.push(c);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text, after running the collectors. */
  async expose(): Promise<string> {
    await Promise.all(
      this.collectors.map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            c(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('metrics collector timed out')), COLLECT_TIMEOUT_MS);
            }),
          ]);
        } catch (e) {
          this.onCollectError(e);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return this.registry.metrics();
  }

  private make(key: keyof Catalog): Counter | Gauge | Histogram {
    const d: MetricDefinition = METRICS[key];
    if (d.component !== this.component && d.component !== 'both')
      throw new Error(`${d.name} belongs to the ${d.component}, not the ${this.component}`);
    let m = this.made.get(d.name);
    if (m) return m;
    const base = { name: d.name, help: d.help, labelNames: [...d.labels], registers: [this.registry] };
    switch (d.type) {
      case 'counter':
        m = new Counter(base);
        break;
      case 'gauge':
        m = new Gauge(base);
        break;
      case 'histogram':
        m = new Histogram({ ...base, buckets: [...(d.buckets ?? [])] });
        break;
    }
    this.made.set(d.name, m);
    return m;
  }
}

/**
 * Replaces a gauge's series with exactly `rows` (series that vanished, e.g. a deleted pool, are gone).
 * prom-client has no atomic swap; reset + set happen in one synchronous step, so no scrape sees a gap.
 */
export function replaceGaugeSeries<L extends string>(
  gauge: Gauge<L>,
  rows: Iterable<[Partial<Record<L, string | number>>, number]>,
): void {
  gauge.reset();
  for (const [labels, value] of rows) gauge.set(labels, value);
}
