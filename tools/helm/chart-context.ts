/**
 * What every chart check works with: the chart, the value sets it is rendered with, the helm and kubectl
 * binaries, and the commands they run.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type HelmBinary, type HelmToolchain, obtainHelmToolchain } from './helm-toolchain';
import { decodeManifests } from './manifest-validation';

export const RELEASE = 'agentfleet';
export const RELEASE_NAMESPACE = 'agentfleet';

/** One way of installing the chart: `helm template` arguments and the Secrets it expects to exist. */
export interface ValueSet {
  name: string;
  args: string[];
  externalSecrets: string[];
}

export interface ChartCheckContext {
  root: string;
  chartDir: string;
  tools: HelmToolchain;
  valueSets: ValueSet[];
}

/** What a passing check has to say: what it saw, and what it could not check and why. */
export interface CheckReport {
  notes: string[];
  skipped?: string[];
}

/** One check of the chart, run alike by the CLI and by the e2e test. */
export interface ChartCheck {
  name: string;
  timeoutMs: number;
  /** Throws with what is wrong when the chart fails the check. */
  run(ctx: ChartCheckContext): Promise<CheckReport>;
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; a failure is an exit code and stderr, never a rejection. */
export function exec(file: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr || (error ? error.message : '') });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

/**
 * The chart's defaults plus the two values it cannot default (a database and a Redis of yours), then
 * every ci/*-values.yaml. Files that name existing Secrets list them here.
 */
export function chartValueSets(root: string): ValueSet[] {
  const chartDir = join(root, 'helm', 'agentfleet');
  const external: Record<string, string[]> = {
    'hpa-existing-secrets-values.yaml': ['agentfleet-credentials'],
  };
  const sets: ValueSet[] = [
    {
      name: 'defaults',
      args: [
        '--set',
        'database.url=postgres://agentfleet:pw@postgresql:5432/agentfleet',
        '--set',
        'redis.url=redis://redis-master:6379',
      ],
      externalSecrets: [],
    },
  ];
  for (const file of readdirSync(join(chartDir, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()) {
    sets.push({
      name: `ci/${file}`,
      args: ['-f', join(chartDir, 'ci', file)],
      externalSecrets: external[file] ?? [],
    });
  }
  return sets;
}

/** The context of a run: the chart, its value sets, and helm and kubectl (fetched if needed). */
export async function prepareChartChecks(root: string): Promise<ChartCheckContext> {
  const chartDir = join(root, 'helm', 'agentfleet');
  if (!existsSync(join(chartDir, 'Chart.yaml'))) throw new Error(`no chart at ${chartDir}`);
  return { root, chartDir, tools: await obtainHelmToolchain(root), valueSets: chartValueSets(root) };
}

/** `helm template` of the chart as release `agentfleet`. */
export async function render(
  ctx: ChartCheckContext,
  helm: HelmBinary,
  args: string[],
  namespace = RELEASE_NAMESPACE,
) {
  return exec(
    helm.path,
    ['template', RELEASE, ctx.chartDir, '--namespace', namespace, ...args],
    ctx.tools.helmEnv,
  );
}

/** The rendered objects of a value set; a helm failure is an error naming the set. */
export async function renderObjects(
  ctx: ChartCheckContext,
  helm: HelmBinary,
  set: ValueSet,
  namespace?: string,
) {
  const out = await render(ctx, helm, set.args, namespace);
  if (out.code !== 0) throw new Error(`helm ${helm.version} template (${set.name}) failed:\n${out.stderr}`);
  return decodeManifests(ctx.tools.kubectl, out.stdout);
}
