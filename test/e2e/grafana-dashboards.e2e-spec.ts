import Ajv from 'ajv';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dashboardQueries } from '../../tools/grafana/dashboard-queries';
import {
  DASHBOARDS_DIR,
  DASHBOARD_SCHEMA,
  expectedMonitoringFiles,
  monitoringFileDifferences,
} from '../../tools/grafana/monitoring-files';
import { MetricVocabulary } from '../../tools/prometheus/metric-vocabulary';
import { promqlReferences } from '../../tools/prometheus/promql-references';

const ROOT = resolve(__dirname, '../..');
const UIDS = ['agentfleet-api', 'agentfleet-execution', 'agentfleet-fleet', 'agentfleet-queues'];

interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { datasource?: { uid?: string }; refId?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown; datasource?: { uid?: string } }[] };
}

function committedDashboards(): [string, Dashboard][] {
  const dir = join(ROOT, DASHBOARDS_DIR);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard]);
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Written for ajv 6 and 8 alike: ajv is not a direct dependency yet, and the hoisted one has been both. */
function schemaValidator() {
  const schema = JSON.parse(readFileSync(join(ROOT, DASHBOARD_SCHEMA), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true }).compile(schema);
  return (data: unknown): string[] =>
    validate(data)
      ? []
      : (validate.errors ?? []).map((e) => {
          // ajv 8 says instancePath, ajv 6 dataPath
          const where = e as unknown as { instancePath?: string; dataPath?: string };
          const at = where.instancePath ?? where.dataPath;
          return `${at || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`;
        });
}

/**
 * The Grafana dashboards of deploy/grafana/dashboards/: exactly what tools/grafana/generate.ts writes
 * (and the chart's copies with them), valid against the JSON schema of the foundation SDK's types, and
 * querying only what the processes export (libs/infra-observability/src/metric-catalog.ts).
 */
describe('Grafana dashboards', () => {
  it('the committed dashboards, their schema and the chart copies are what the generator writes', async () => {
    const expected = await expectedMonitoringFiles(ROOT);
    expect(monitoringFileDifferences(ROOT, expected)).toEqual([]);
  });

  it('every dashboard is valid against the schema generated from the SDK types', () => {
    const validate = schemaValidator();
    const dashboards = committedDashboards();
    expect(dashboards.map(([, d]) => d.uid).sort()).toEqual(UIDS);
    for (const [file, d] of dashboards) expect({ file, errors: validate(d) }).toEqual({ file, errors: [] });
  });

  it('the schema is strict: an unknown field, a wrong type or a non-Prometheus query fails', () => {
    const validate = schemaValidator();
    const [, d] = committedDashboards()[0] as [string, Dashboard];
    const broken = (edit: (copy: Dashboard & Record<string, unknown>) => void) => {
      const copy = structuredClone(d) as Dashboard & Record<string, unknown>;
      edit(copy);
      return validate(copy);
    };
    expect(broken((c) => (c['refersh'] = '30s'))).not.toEqual([]);
    expect(
      broken((c) => ((c.panels[1] as unknown as Record<string, unknown>)['gridPos'] = { w: 'wide' })),
    ).not.toEqual([]);
    expect(
      broken((c) => ((c.panels[1]?.targets?.[0] as Record<string, unknown>)['query'] = 'SELECT 1')),
    ).not.toEqual([]);
    expect(broken((c) => delete (c.panels[1]?.targets?.[0] as Record<string, unknown>)['expr'])).not.toEqual(
      [],
    );
    expect(broken(() => undefined)).toEqual([]);
  });

  it('every query uses metrics of the catalog (or prom-client defaults) with labels they have', () => {
    const vocabulary = MetricVocabulary.load();
    const problems: string[] = [];
    let queries = 0;
    for (const [, d] of committedDashboards()) {
      for (const q of dashboardQueries(d)) {
        queries++;
        problems.push(...vocabulary.problems(q.expr, q.labels).map((p) => `${q.where}: ${p}`));
      }
    }
    expect(problems).toEqual([]);
    expect(queries).toBeGreaterThan(60);
  });

  it('every query goes to the `datasource` variable; pool and target variables read label values', () => {
    for (const [file, d] of committedDashboards()) {
      const vars = d.templating.list;
      expect({ file, datasource: vars[0] }).toMatchObject({
        file,
        datasource: { name: 'datasource', type: 'datasource', query: 'prometheus' },
      });
      for (const v of vars.filter((x) => x.type === 'query'))
        expect({ file, v: v.name, uid: v.datasource?.uid }).toEqual({
          file,
          v: v.name,
          uid: '${datasource}',
        });
      const panels = allPanels(d.panels);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels.filter((x) => x.type !== 'row')) {
        expect({ file, panel: p.title, ds: p.datasource }).toEqual({
          file,
          panel: p.title,
          ds: { type: 'prometheus', uid: '${datasource}' },
        });
        for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('${datasource}');
        expect(new Set(p.targets?.map((t) => t.refId)).size).toBe(p.targets?.length);
      }
    }
    const names = Object.fromEntries(
      committedDashboards().map(([, d]) => [d.uid, d.templating.list.map((v) => v.name)]),
    );
    expect(names).toEqual({
      'agentfleet-api': ['datasource', 'route'],
      'agentfleet-execution': ['datasource', 'pool', 'target'],
      'agentfleet-fleet': ['datasource', 'pool'],
      'agentfleet-queues': ['datasource', 'pool'],
    });
  });
});

describe('PromQL checks of the dashboards and alert rules', () => {
  const vocabulary = MetricVocabulary.load();

  it('find the selectors, matchers and grouping labels of an expression', () => {
    expect(
      promqlReferences(
        'histogram_quantile(0.9, sum by (le, pool) (rate(agentfleet_job_enqueue_to_start_seconds_bucket{pool=~"$pool"}[$__rate_interval])))' +
          ' / on (pool) group_left max without (state) (agentfleet_pool_slots offset 5m) and {__name__="up", job="x"}',
      ),
    ).toEqual({
      selectors: [
        {
          metric: 'agentfleet_job_enqueue_to_start_seconds_bucket',
          matchers: [{ label: 'pool', op: '=~', value: '$pool' }],
          enclosingFunction: 'rate',
        },
        { metric: 'agentfleet_pool_slots', matchers: [], enclosingFunction: 'max' },
        { metric: 'up', matchers: [{ label: 'job', op: '=', value: 'x' }], enclosingFunction: undefined },
      ],
      groupingLabels: ['le', 'pool', 'pool', 'state'],
    });
  });

  it('accept what the processes export, with the labels Prometheus adds', () => {
    expect(
      vocabulary.problems(
        'sum by (namespace, pod) (rate(process_cpu_seconds_total[5m]) * on (job, instance) group_left (component) agentfleet_build_info)',
        ['component', 'instance'],
      ),
    ).toEqual([]);
    expect(
      vocabulary.problems(
        'sum by (le) (rate(agentfleet_http_request_duration_seconds_bucket{route="/x"}[5m]))',
      ),
    ).toEqual([]);
  });

  it('reject an unknown metric, a label the metric lacks, rate() of a gauge and an unknown legend label', () => {
    expect(vocabulary.problems('sum(rate(agentfleet_jobs_started_total[5m]))')).toEqual([
      'agentfleet_jobs_started_total is neither in the metric catalog nor a prom-client default metric',
    ]);
    expect(vocabulary.problems('agentfleet_queue_jobs{target="docker"}')).toEqual([
      'agentfleet_queue_jobs has no label target (labels: queue, pool, state)',
    ]);
    expect(vocabulary.problems('rate(agentfleet_queue_jobs[5m])')).toEqual([
      'rate() over agentfleet_queue_jobs, which is not a counter',
    ]);
    expect(vocabulary.problems('sum by (worker) (agentfleet_worker_slots)')).toEqual([
      'label worker is on none of the series of: sum by (worker) (agentfleet_worker_slots)',
    ]);
    expect(vocabulary.problems('agentfleet_worker_slots', ['pool'])).toEqual([
      'label pool is on none of the series of: agentfleet_worker_slots',
    ]);
    // the histogram's own name is not a series; its _bucket/_sum/_count are
    expect(vocabulary.problems('agentfleet_job_duration_seconds')).toHaveLength(1);
  });
});
