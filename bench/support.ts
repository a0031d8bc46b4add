import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** Shared helpers of the benchmarks under bench/ (run with `npm run bench [-- name]`). */

/** Nearest-rank percentile of unsorted numbers; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(values: readonly number[]) {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

/** Rounds for display and JSON (keeps NaN/Infinity out of JSON: they become null). */
export function round(v: number, digits = 2): number | null {
  if (!Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Rounds every number of a result tree to 3 decimals for the JSON file. */
export function roundDeep<T>(v: T): T {
  if (typeof v === 'number') return round(v, 3) as T;
  if (Array.isArray(v)) return v.map((x) => roundDeep(x as unknown)) as T;
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = roundDeep(x as unknown);
    return out as T;
  }
  return v;
}

export function fmt(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v.toFixed(digits);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface GoalResult {
  goal: string;
  criterion: string;
  measured: string;
  passed: boolean;
}

export function printGoal(g: GoalResult): void {
  console.log(`  ${g.passed ? 'MET   ' : 'MISSED'}  ${g.goal} — ${g.criterion}; measured ${g.measured}`);
}

export function machine() {
  const c = cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cores: c.length,
    cpu_model: c[0]?.model ?? 'unknown',
    memory_gb: round(totalmem() / 2 ** 30, 1),
  };
}

/** The repository root (the directory with package.json above the running file, in src or dist). */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench'))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** Writes bench/results/<name>.json atomically (a temp file renamed over it). Returns the path. */
export async function writeResult(name: string, data: unknown): Promise<string> {
  const dir = resolve(repoRoot(), 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const tmp = join(dir, `${name}.tmp.json`);
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
  await rename(tmp, file);
  return file;
}

/** Resolution of the event-loop delay monitors (ms). */
export const LOOP_DELAY_RESOLUTION_MS = 10;

/**
 * p99 and max event-loop delay (ms) of a `monitorEventLoopDelay` histogram. Node records the time
 * between two ticks of its sampling timer, so an idle loop reads as the resolution: subtract it.
 */
export function loopDelayMs(h: { percentile(p: number): number; max: number }): { p99: number; max: number } {
  const late = (ns: number) => Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS);
  return { p99: late(h.percentile(99)), max: late(h.max) };
}
