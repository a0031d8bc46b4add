/**
 * The checks of helm/agentfleet, declared once: `npm run helm:check` (tools/helm/check.ts) runs them in
 * order and test/e2e/helm-chart.e2e-spec.ts runs each as a test. Every check throws with what is wrong
 * and reports what it saw and what it skipped.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type ChartCheck, type ChartCheckContext, type ValueSet, exec, renderObjects } from './chart-context';
import { type KubeObject, checkReferences, validateAgainstSchemas } from './manifest-validation';
import { checkProcessEnvironments } from './pod-environment';
import { serverDryRun } from './server-dry-run';
import { rejectionChecks } from './value-rejections';
import { workerRbac } from './worker-rbac';

export { type ChartCheckContext, chartValueSets, prepareChartChecks } from './chart-context';

function countKinds(objects: KubeObject[]): string {
  const counts = new Map<string, number>();
  for (const o of objects) counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
  return [...counts].map(([k, n]) => (n > 1 ? `${k}×${n}` : k)).join(', ');
}

const lint: ChartCheck = {
  name: 'helm lint --strict (every value set, helm 4 and 3)',
  timeoutMs: 120_000,
  async run(ctx) {
    const failures: string[] = [];
    for (const helm of ctx.tools.helms) {
      for (const set of ctx.valueSets) {
        const out = await exec(helm.path, ['lint', '--strict', ctx.chartDir, ...set.args], ctx.tools.helmEnv);
        if (out.code !== 0)
          failures.push(`helm ${helm.version} lint (${set.name}):\n${out.stdout}${out.stderr}`);
      }
    }
    if (failures.length) throw new Error(failures.join('\n'));
    return {
      notes: [
        `${ctx.valueSets.length} value sets × ${ctx.tools.helms.map((h) => h.version).join(', ')}: no findings`,
      ],
    };
  },
};

function renderAndValidate(set: ValueSet): ChartCheck {
  return {
    name: `helm template + offline validation: ${set.name}`,
    timeoutMs: 120_000,
    async run(ctx) {
      const notes: string[] = [];
      const problems: string[] = [];
      let previous: string | undefined;
      for (const helm of ctx.tools.helms) {
        const objects = await renderObjects(ctx, helm, set);
        if (objects.length === 0) throw new Error(`helm ${helm.version} rendered nothing for ${set.name}`);
        problems.push(
          ...validateAgainstSchemas(objects),
          ...checkReferences(objects, set.externalSecrets),
          ...checkProcessEnvironments(objects),
        );
        // both helm majors must produce the same objects (random secrets aside)
        const shape = objects
          .map((o) => `${o.kind}/${o.metadata.name}`)
          .sort()
          .join(' ');
        if (previous !== undefined && shape !== previous)
          problems.push(`helm ${helm.version} renders other objects than ${ctx.tools.helms[0]?.version}`);
        previous = shape;
        if (helm === ctx.tools.helms[0]) notes.push(`${objects.length} objects: ${countKinds(objects)}`);
      }
      if (problems.length) throw new Error([...new Set(problems)].join('\n'));
      return { notes };
    },
  };
}

/**
 * Helm reads no file outside the chart: the alert rules and dashboards are copies of deploy/prometheus/
 * alerts.yaml and deploy/grafana/dashboards/*.json, written by tools/grafana/generate.ts. They must be
 * byte-identical, with no dashboard missing from the chart and none left over (a renamed one).
 */
const chartCopies: ChartCheck = {
  name: 'chart copies of the alert rules and dashboards match deploy/',
  timeoutMs: 10_000,
  async run(ctx) {
    const problems: string[] = [];
    const copies = join(ctx.chartDir, 'files', 'dashboards');
    const sources = join(ctx.root, 'deploy', 'grafana', 'dashboards');
    const jsonIn = (dir: string) =>
      existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith('.json'))
            .sort()
        : [];
    const shipped = jsonIn(copies);
    const generated = jsonIn(sources);
    if (generated.length === 0) problems.push('deploy/grafana/dashboards/ has no dashboard');
    for (const f of generated) {
      const copy = join(copies, f);
      if (!existsSync(copy) || readFileSync(copy, 'utf8') !== readFileSync(join(sources, f), 'utf8'))
        problems.push(
          `helm/agentfleet/files/dashboards/${f} is missing or differs from deploy/grafana/dashboards/${f}`,
        );
    }
    for (const f of shipped.filter((x) => !generated.includes(x)))
      problems.push(`helm/agentfleet/files/dashboards/${f} has no counterpart in deploy/grafana/dashboards/`);
    for (const f of shipped) {
      try {
        const d = JSON.parse(readFileSync(join(copies, f), 'utf8')) as {
          uid?: unknown;
          title?: unknown;
          panels?: unknown;
        };
        if (typeof d.uid !== 'string' || typeof d.title !== 'string' || !Array.isArray(d.panels))
          problems.push(`files/dashboards/${f} lacks a uid, a title or panels`);
      } catch (e) {
        problems.push(`files/dashboards/${f} is not JSON: ${String(e)}`);
      }
    }
    const alerts = join(ctx.root, 'deploy', 'prometheus', 'alerts.yaml');
    if (
      !existsSync(alerts) ||
      readFileSync(alerts, 'utf8') !== readFileSync(join(ctx.chartDir, 'files', 'alerts.yaml'), 'utf8')
    )
      problems.push('helm/agentfleet/files/alerts.yaml differs from deploy/prometheus/alerts.yaml');
    if (problems.length)
      throw new Error(
        [
          ...problems,
          'run `npm run build && node dist/tools/grafana/generate.js` and commit the result',
        ].join('\n'),
      );
    return { notes: [`alerts.yaml and ${shipped.length} dashboard(s): identical to deploy/`] };
  },
};

/** JSON with every object's keys sorted: helm's toYaml sorts them, the rule file does not. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * The PrometheusRule the chart renders carries the rule groups of files/alerts.yaml exactly (Helm's
 * templating never touches Prometheus' own {{ $labels.x }}), with each runbook_url made absolute by
 * monitoring.prometheusRule.runbookBaseUrl (set in ci/full-values.yaml).
 */
const renderedAlertRules: ChartCheck = {
  name: 'PrometheusRule: the rule groups of files/alerts.yaml, runbook links made absolute',
  timeoutMs: 120_000,
  async run(ctx) {
    const set = ctx.valueSets.find((v) => v.name === 'ci/full-values.yaml');
    if (!set) throw new Error('ci/full-values.yaml (which enables the PrometheusRule) is missing');
    const values = parse(readFileSync(join(ctx.chartDir, 'ci', 'full-values.yaml'), 'utf8')) as {
      monitoring?: { prometheusRule?: { runbookBaseUrl?: string } };
    };
    const base = values.monitoring?.prometheusRule?.runbookBaseUrl;
    if (!base) throw new Error('ci/full-values.yaml sets no monitoring.prometheusRule.runbookBaseUrl');
    const rules = parse(readFileSync(join(ctx.chartDir, 'files', 'alerts.yaml'), 'utf8')) as {
      groups: { rules: { annotations?: Record<string, string> }[] }[];
    };
    for (const rule of rules.groups.flatMap((g) => g.rules)) {
      const url = rule.annotations?.['runbook_url'];
      if (url?.startsWith('docs/runbook.md') && rule.annotations)
        rule.annotations['runbook_url'] = base + url.slice('docs/runbook.md'.length);
    }
    const expected = canonicalJson(rules.groups);
    for (const helm of ctx.tools.helms) {
      const objects = await renderObjects(ctx, helm, set);
      const rendered = objects.filter((o) => o.kind === 'PrometheusRule');
      if (rendered.length !== 1)
        throw new Error(`helm ${helm.version} rendered ${rendered.length} PrometheusRules, expected 1`);
      const groups = (rendered[0]?.['spec'] as { groups?: unknown } | undefined)?.groups;
      if (canonicalJson(groups) !== expected)
        throw new Error(
          `helm ${helm.version}: the PrometheusRule's groups differ from files/alerts.yaml ` +
            `(with runbook_url under ${base}):\n${JSON.stringify(groups, null, 1).slice(0, 2000)}`,
        );
    }
    const alerts = rules.groups.flatMap((g) => g.rules).length;
    return { notes: [`${alerts} rules in ${rules.groups.length} groups, identical after the runbook links`] };
  },
};

/** Every check, in the order the runner prints them. */
export function chartChecks(ctx: Pick<ChartCheckContext, 'valueSets'>): ChartCheck[] {
  return [
    lint,
    ...ctx.valueSets.map(renderAndValidate),
    ...rejectionChecks(),
    chartCopies,
    renderedAlertRules,
    serverDryRun,
    workerRbac,
  ];
}
