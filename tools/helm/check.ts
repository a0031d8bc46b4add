/**
 * `npm run helm:check`: lints, renders and validates helm/agentfleet offline with the real helm (v4 and
 * v3) and kubectl, proves values.schema.json refuses wrong values, and dry-runs the manifests against a
 * real Kubernetes v1.20 control plane (shared/k8s). Exits 1 when any check fails.
 */
import { resolve } from 'node:path';
import { chartChecks, prepareChartChecks } from './chart-checks';

async function main(): Promise<number> {
  // dist/tools/helm/check.js → the repository root
  const root = resolve(__dirname, '../../..');
  const started = Date.now();
  const ctx = await prepareChartChecks(root);
  const { tools } = ctx;
  process.stdout.write(
    `AgentFleet chart checks (${ctx.chartDir})\n` +
      `  tools: ${tools.helms.map((h) => `helm ${h.version}`).join(', ')}, kubectl ${tools.kubectlVersion} (from ${tools.cacheDir})\n`,
  );
  let passed = 0;
  let failed = 0;
  for (const check of chartChecks(ctx)) {
    const t0 = Date.now();
    try {
      const report = await check.run(ctx);
      passed++;
      process.stdout.write(`✓ ${check.name} (${Date.now() - t0} ms)\n`);
      for (const n of report.notes) process.stdout.write(`    ${n}\n`);
      for (const n of report.skipped ?? []) process.stdout.write(`    skipped: ${n}\n`);
    } catch (e) {
      failed++;
      process.stdout.write(`✗ ${check.name}\n`);
      const message = e instanceof Error ? e.message : String(e);
      process.stdout.write(`${message.replace(/^/gm, '    ')}\n`);
    }
  }
  process.stdout.write(
    `chart checks: ${passed} passed, ${failed} failed (${Math.round((Date.now() - started) / 1000)} s)\n`,
  );
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`helm:check failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
