/**
 * promtool (Debian's `prometheus` package, or PROMTOOL=/path/to/promtool): `check rules` and
 * `test rules` of the alert rules, and a syntax check of any PromQL expression — written as recording
 * rules of a throw-away rule file, which `promtool check rules` parses.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';

export const PROMTOOL_INSTALL_HINT =
  'install it with `apt-get install -y --no-install-recommends prometheus` (Debian), or set PROMTOOL to its path';

/** The promtool binary: $PROMTOOL, else the first `promtool` on the PATH; undefined when there is none. */
export function findPromtool(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = env['PROMTOOL']
    ? [env['PROMTOOL']]
    : (env['PATH'] ?? '').split(delimiter).map((dir) => join(dir, 'promtool'));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface PromtoolOutcome {
  code: number;
  output: string;
}

export function runPromtool(promtool: string, args: string[], cwd?: string): Promise<PromtoolOutcome> {
  return new Promise((resolve) => {
    execFile(
      promtool,
      args,
      { cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}${error && !stderr ? error.message : ''}` });
      },
    );
  });
}

/** Grafana's interval variables stand where PromQL wants a duration: `[$__rate_interval]` → `[5m]`. */
export function withoutGrafanaIntervals(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g, '5m');
}

/**
 * `promtool check rules` of the expressions as recording rules; the outcome names each one by its key
 * in the rule names (`agentfleet_check:<n>`), so `keys[n]` says where a failing expression came from.
 */
export async function checkExpressions(promtool: string, exprs: string[]): Promise<PromtoolOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'agentfleet-promql-'));
  try {
    const file = join(dir, 'expressions.rules.yaml');
    const rules = exprs.map((expr, n) => ({
      record: `agentfleet_check:expr_${n}`,
      expr: withoutGrafanaIntervals(expr),
    }));
    writeFileSync(file, stringify({ groups: [{ name: 'expressions', rules }] }));
    return await runPromtool(promtool, ['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
