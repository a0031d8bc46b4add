/**
 * The series names dashboards and alert rules may query, with their labels: the metric catalog
 * (libs/infra-observability/src/metric-catalog.ts, the contract the processes export), prom-client's
 * default process metrics as prom-client itself registers them, and Prometheus' own `up`.
 */
import {
  type Component,
  METRICS,
  type MetricDefinition,
  exportedMetricNames,
} from '@agentfleet/infra-observability';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { promqlReferences } from './promql-references';

/** Labels Prometheus attaches to every scraped series (job, instance) or the Prometheus Operator adds. */
export const TARGET_LABELS: readonly string[] = [
  'job',
  'instance',
  'namespace',
  'pod',
  'container',
  'service',
  'endpoint',
];

export interface KnownSeries {
  name: string;
  /** Counters and a histogram's _bucket/_sum/_count: what rate() and increase() may take. */
  monotonic: boolean;
  labels: ReadonlySet<string>;
  origin: 'catalog' | 'prom-client' | 'prometheus';
}

const COMPONENTS: readonly Component[] = ['control-plane', 'worker'];

function histogramParts(name: string, labels: readonly string[], origin: KnownSeries['origin']) {
  return [
    { name: `${name}_bucket`, monotonic: true, labels: new Set([...labels, 'le']), origin },
    { name: `${name}_sum`, monotonic: true, labels: new Set(labels), origin },
    { name: `${name}_count`, monotonic: true, labels: new Set(labels), origin },
  ];
}

function catalogSeries(): KnownSeries[] {
  const exported = new Set(COMPONENTS.flatMap((c) => exportedMetricNames(c)));
  const series = Object.values(METRICS as Record<string, MetricDefinition>).flatMap((d): KnownSeries[] =>
    d.type === 'histogram'
      ? histogramParts(d.name, d.labels, 'catalog')
      : [{ name: d.name, monotonic: d.type === 'counter', labels: new Set(d.labels), origin: 'catalog' }],
  );
  // the catalog's own list of exported names is the contract: nothing outside it is queryable
  return series.filter((s) => exported.has(s.name));
}

function promClientDefaults(): KnownSeries[] {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry.getMetricsAsArray().flatMap((m): KnownSeries[] => {
    const labels = (m as { labelNames?: string[] }).labelNames ?? [];
    const type = String(m.type);
    return type === 'histogram'
      ? histogramParts(m.name, labels, 'prom-client')
      : [{ name: m.name, monotonic: type === 'counter', labels: new Set(labels), origin: 'prom-client' }];
  });
}

export class MetricVocabulary {
  private readonly byName: ReadonlyMap<string, KnownSeries>;

  constructor(series: KnownSeries[]) {
    this.byName = new Map(series.map((s) => [s.name, s]));
  }

  static load(): MetricVocabulary {
    return new MetricVocabulary([
      ...catalogSeries(),
      ...promClientDefaults(),
      { name: 'up', monotonic: false, labels: new Set(), origin: 'prometheus' },
    ]);
  }

  get(name: string): KnownSeries | undefined {
    return this.byName.get(name);
  }

  /**
   * What is wrong with an expression: an unknown metric, a matcher or grouping label the metric does
   * not have, rate()/increase() over a gauge. `usedLabels` (a legend's, an alert annotation's) must be
   * among the labels of the expression's series.
   */
  problems(expr: string, usedLabels: readonly string[] = []): string[] {
    let refs;
    try {
      refs = promqlReferences(expr);
    } catch (e) {
      return [e instanceof Error ? e.message : String(e)];
    }
    const problems: string[] = [];
    const available = new Set(TARGET_LABELS);
    for (const s of refs.selectors) {
      if (!s.metric) {
        problems.push(`a selector without a metric name: ${expr}`);
        continue;
      }
      const known = this.get(s.metric);
      if (!known) {
        problems.push(`${s.metric} is neither in the metric catalog nor a prom-client default metric`);
        continue;
      }
      for (const l of known.labels) available.add(l);
      for (const m of s.matchers)
        if (!known.labels.has(m.label) && !TARGET_LABELS.includes(m.label))
          problems.push(
            `${s.metric} has no label ${m.label} (labels: ${[...known.labels].join(', ') || 'none'})`,
          );
      if (['rate', 'irate', 'increase'].includes(s.enclosingFunction ?? '') && !known.monotonic)
        problems.push(`${s.enclosingFunction}() over ${s.metric}, which is not a counter`);
    }
    for (const l of [...refs.groupingLabels, ...usedLabels])
      if (!available.has(l)) problems.push(`label ${l} is on none of the series of: ${expr}`);
    return problems;
  }
}
