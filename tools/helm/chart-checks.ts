/**
 * The checks of helm/agentfleet, declared once: `npm run helm:check` (tools/helm/check.ts) runs them in
 * order and test/e2e/helm-chart.e2e-spec.ts runs each as a test. Every check throws with what is wrong
 * and reports what it saw and what it skipped.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ChartCheck, type ChartCheckContext, type ValueSet, exec, renderObjects } from './chart-context';
import { type KubeObject, checkReferences, validateAgainstSchemas } from './manifest-validation';
import { checkProcessEnvironments } from './pod-environment';
import { serverDryRun } from './server-dry-run';
import { rejectionChecks } from './value-rejections';

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
 * alerts.yaml and deploy/grafana/*.json. While those do not exist the chart keeps its placeholders.
 */
const chartCopies: ChartCheck = {
  name: 'chart copies of the alert rules and dashboards match deploy/',
  timeoutMs: 10_000,
  async run(ctx) {
    const skipped: string[] = [];
    const problems: string[] = [];
    const dashboards = join(ctx.chartDir, 'files', 'dashboards');
    const files = readdirSync(dashboards).filter((f) => f.endsWith('.json'));
    if (files.length === 0) problems.push('files/dashboards/ has no dashboard');
    for (const f of files) {
      try {
        const d = JSON.parse(readFileSync(join(dashboards, f), 'utf8')) as {
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
    if (existsSync(alerts)) {
      if (readFileSync(alerts, 'utf8') !== readFileSync(join(ctx.chartDir, 'files', 'alerts.yaml'), 'utf8'))
        problems.push(
          'helm/agentfleet/files/alerts.yaml differs from deploy/prometheus/alerts.yaml: copy it over',
        );
    } else {
      skipped.push(
        'deploy/prometheus/alerts.yaml does not exist yet: the chart ships its placeholder rule group',
      );
    }
    const grafana = join(ctx.root, 'deploy', 'grafana');
    if (existsSync(grafana)) {
      for (const f of readdirSync(grafana).filter((x) => x.endsWith('.json'))) {
        const copy = join(dashboards, f);
        if (!existsSync(copy) || readFileSync(copy, 'utf8') !== readFileSync(join(grafana, f), 'utf8'))
          problems.push(
            `helm/agentfleet/files/dashboards/${f} is missing or differs from deploy/grafana/${f}: copy it over`,
          );
      }
    } else {
      skipped.push('deploy/grafana/ does not exist yet: the chart ships its placeholder dashboard');
    }
    if (problems.length) throw new Error(problems.join('\n'));
    return { notes: [`${files.length} dashboard(s) in files/dashboards/`], skipped };
  },
};

/** Every check, in the order the runner prints them. */
export function chartChecks(ctx: Pick<ChartCheckContext, 'valueSets'>): ChartCheck[] {
  return [lint, ...ctx.valueSets.map(renderAndValidate), ...rejectionChecks(), chartCopies, serverDryRun];
}
