/**
 * Writes the Grafana dashboards (deploy/grafana/dashboards/*.json), their JSON schema and the Helm
 * chart's copies of the dashboards and alert rules. With `--check` it writes nothing and exits 1 when
 * a committed file differs from what it would write (CI and test/e2e/grafana-dashboards.e2e-spec.ts).
 */
import { resolve } from 'node:path';
import { expectedMonitoringFiles, monitoringFileDifferences, writeMonitoringFiles } from './monitoring-files';

async function main(): Promise<number> {
  // dist/tools/grafana/generate.js → the repository root
  const root = resolve(__dirname, '../../..');
  const expected = await expectedMonitoringFiles(root);
  if (process.argv.includes('--check')) {
    const problems = monitoringFileDifferences(root, expected);
    for (const p of problems) process.stdout.write(`✗ ${p}\n`);
    if (problems.length) {
      process.stdout.write(
        'the generated monitoring files are out of date: run the generator and commit them\n',
      );
      return 1;
    }
    process.stdout.write(`✓ ${expected.size} generated monitoring files are current\n`);
    return 0;
  }
  const changed = writeMonitoringFiles(root, expected);
  for (const p of changed) process.stdout.write(`wrote ${p}\n`);
  process.stdout.write(`${expected.size} files, ${changed.length} changed\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(
      `grafana generate failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exit(1);
  },
);
