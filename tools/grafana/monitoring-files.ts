/**
 * Every generated monitoring file and what it must contain: the dashboards (built by
 * tools/grafana/dashboards/*), the JSON schema of their model, and the Helm chart's copies of the
 * dashboards and of deploy/prometheus/alerts.yaml (Helm reads no file outside the chart). JSON is
 * formatted by the repository's prettier settings, so `npm run format` leaves the files as generated.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as prettier from 'prettier';
import { generateDashboardSchema } from './dashboard-schema';
import { DASHBOARDS } from './dashboards';
import { buildDashboard } from './prometheus-panels';

export const DASHBOARDS_DIR = join('deploy', 'grafana', 'dashboards');
export const DASHBOARD_SCHEMA = join('deploy', 'grafana', 'dashboard.schema.json');
export const ALERT_RULES = join('deploy', 'prometheus', 'alerts.yaml');
export const CHART_DASHBOARDS_DIR = join('helm', 'agentfleet', 'files', 'dashboards');
export const CHART_ALERT_RULES = join('helm', 'agentfleet', 'files', 'alerts.yaml');

/** Repository-relative path → content. */
export type FileSet = Map<string, string>;

async function formatJson(root: string, path: string, value: unknown): Promise<string> {
  const options = (await prettier.resolveConfig(join(root, path))) ?? {};
  return prettier.format(JSON.stringify(value), { ...options, filepath: join(root, path) });
}

export function dashboardFileName(uid: string): string {
  return `${uid}.json`;
}

/** What the generator writes, computed from the sources (dashboards, SDK types, alerts.yaml). */
export async function expectedMonitoringFiles(root: string): Promise<FileSet> {
  const files: FileSet = new Map();
  for (const spec of DASHBOARDS) {
    const json = await formatJson(
      root,
      join(DASHBOARDS_DIR, dashboardFileName(spec.uid)),
      buildDashboard(spec),
    );
    files.set(join(DASHBOARDS_DIR, dashboardFileName(spec.uid)), json);
    files.set(join(CHART_DASHBOARDS_DIR, dashboardFileName(spec.uid)), json);
  }
  files.set(DASHBOARD_SCHEMA, await formatJson(root, DASHBOARD_SCHEMA, generateDashboardSchema(root)));
  files.set(CHART_ALERT_RULES, readFileSync(join(root, ALERT_RULES), 'utf8'));
  return files;
}

/** Generated files on disk that the generator no longer produces (a renamed or removed dashboard). */
function strayFiles(root: string, expected: FileSet): string[] {
  return [DASHBOARDS_DIR, CHART_DASHBOARDS_DIR].flatMap((dir) =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir))
          .filter((f) => f.endsWith('.json'))
          .map((f) => join(dir, f))
          .filter((p) => !expected.has(p))
      : [],
  );
}

/** What differs between the files on disk and `expected`, one line each; empty when all match. */
export function monitoringFileDifferences(root: string, expected: FileSet): string[] {
  const problems: string[] = [];
  for (const [path, content] of expected) {
    const full = join(root, path);
    if (!existsSync(full)) problems.push(`${path} is missing`);
    else if (readFileSync(full, 'utf8') !== content)
      problems.push(`${path} differs from what the generator produces`);
  }
  for (const path of strayFiles(root, expected)) problems.push(`${path} is not produced by the generator`);
  return problems;
}

/** Writes `expected` and removes stray files; returns the paths it changed. */
export function writeMonitoringFiles(root: string, expected: FileSet): string[] {
  const changed: string[] = [];
  for (const [path, content] of expected) {
    const full = join(root, path);
    if (existsSync(full) && readFileSync(full, 'utf8') === content) continue;
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
    changed.push(path);
  }
  for (const path of strayFiles(root, expected)) {
    rmSync(join(root, path));
    changed.push(`${path} (removed)`);
  }
  return changed;
}
