import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { dashboardQueries } from '../../tools/grafana/dashboard-queries';
import { ALERT_RULES, DASHBOARDS_DIR } from '../../tools/grafana/monitoring-files';
import { MetricVocabulary } from '../../tools/prometheus/metric-vocabulary';
import {
  PROMTOOL_INSTALL_HINT,
  checkExpressions,
  findPromtool,
  runPromtool,
} from '../../tools/prometheus/promtool';

const ROOT = resolve(__dirname, '../..');
const RULES_DIR = join(ROOT, 'deploy', 'prometheus');

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  name: string;
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

function alertRules(): AlertRule[] {
  const file = parse(readFileSync(join(ROOT, ALERT_RULES), 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return file.groups.flatMap((g) => g.rules);
}

/** GitHub's anchor of a Markdown heading: lower case, spaces to dashes, other punctuation dropped. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

/**
 * The alert rules of deploy/prometheus/alerts.yaml, checked and unit-tested by promtool, their
 * runbook, and the PromQL of the dashboards parsed by promtool too. promtool comes from Debian's
 * `prometheus` package: without it these tests fail in CI and are skipped (saying so) elsewhere.
 */
describe('Prometheus alert rules and runbook', () => {
  const promtool = findPromtool();
  const withPromtool = promtool || process.env['CI'] ? it : it.skip;
  if (!promtool) {
    const what = process.env['CI'] ? 'FAIL (CI is set)' : 'are SKIPPED';
    console.warn(`promtool not found: the promtool tests ${what}; ${PROMTOOL_INSTALL_HINT}`);
  }
  const requirePromtool = (): string => {
    if (!promtool) throw new Error(`promtool is required in CI and was not found: ${PROMTOOL_INSTALL_HINT}`);
    return promtool;
  };

  withPromtool('promtool check rules accepts alerts.yaml', async () => {
    const out = await runPromtool(requirePromtool(), ['check', 'rules', join(ROOT, ALERT_RULES)]);
    expect(out).toMatchObject({ code: 0 });
    expect(out.output).toContain(`SUCCESS: ${alertRules().length} rules found`);
  });

  withPromtool('promtool test rules: every case of alerts.test.yaml passes', async () => {
    // run from the rules' directory: alerts.test.yaml names alerts.yaml relative to itself
    const out = await runPromtool(requirePromtool(), ['test', 'rules', 'alerts.test.yaml'], RULES_DIR);
    if (out.code !== 0) throw new Error(`promtool test rules failed:\n${out.output}`);
    expect(out.output).toContain('SUCCESS');
  });

  withPromtool('promtool parses every PromQL expression of the dashboards', async () => {
    const dir = join(ROOT, DASHBOARDS_DIR);
    const queries = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => dashboardQueries(JSON.parse(readFileSync(join(dir, f), 'utf8'))));
    const out = await checkExpressions(
      requirePromtool(),
      queries.map((q) => q.expr),
    );
    if (out.code !== 0) {
      const failing = [...out.output.matchAll(/agentfleet_check:expr_(\d+)/g)].map(
        (m) => queries[Number(m[1])]?.where,
      );
      throw new Error(`promtool rejects dashboard queries (${failing.join(', ')}):\n${out.output}`);
    }
    expect(out.output).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it('every rule is an alert with a severity, a summary, a description and its runbook section', () => {
    const runbook = readFileSync(join(ROOT, 'docs', 'runbook.md'), 'utf8');
    const sections = [...runbook.matchAll(/^## (.+)$/gm)].map((m) => (m[1] as string).trim());
    const rules = alertRules();
    expect(rules.length).toBeGreaterThanOrEqual(10);
    for (const r of rules) {
      expect({ alert: r.alert, record: r.record }).toEqual({ alert: expect.any(String), record: undefined });
      const name = r.alert as string;
      expect({ name, severity: r.labels?.['severity'] }).toEqual({
        name,
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect({ name, annotations: Object.keys(r.annotations ?? {}).sort() }).toEqual({
        name,
        annotations: ['description', 'runbook_url', 'summary'],
      });
      expect({ name, runbook: r.annotations?.['runbook_url'] }).toEqual({
        name,
        runbook: `docs/runbook.md#${anchor(name)}`,
      });
      expect({ name, section: sections.includes(name) }).toEqual({ name, section: true });
    }
    // and no runbook section for an alert that does not exist
    const alerts = new Set(rules.map((r) => r.alert));
    expect(sections.filter((s) => s.startsWith('AgentFleet') && !alerts.has(s))).toEqual([]);
  });

  it('alert expressions and annotation labels use only what the processes export', () => {
    const vocabulary = MetricVocabulary.load();
    const problems = alertRules().flatMap((r) => {
      const text = Object.values(r.annotations ?? {}).join(' ');
      const labels = [...text.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)].map((m) => m[1] as string);
      return vocabulary.problems(r.expr, labels).map((p) => `${r.alert}: ${p}`);
    });
    expect(problems).toEqual([]);
  });

  it('alerts.test.yaml has, for every alert, a case where it fires and one where it stays quiet', () => {
    const tests = (parse(readFileSync(join(RULES_DIR, 'alerts.test.yaml'), 'utf8')) as { tests: RuleTest[] })
      .tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    const coverage = alertRules().map((r) => ({
      alert: r.alert,
      fires: cases.some((c) => c.alertname === r.alert && (c.exp_alerts ?? []).length > 0),
      quiet: cases.some((c) => c.alertname === r.alert && (c.exp_alerts ?? []).length === 0),
    }));
    expect(coverage).toEqual(alertRules().map((r) => ({ alert: r.alert, fires: true, quiet: true })));
  });
});
