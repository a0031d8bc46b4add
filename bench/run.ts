/**
 * Benchmark dispatcher: `npm run bench` runs every benchmark, `npm run bench -- <name> [...]` the named ones.
 * A benchmark is a measurement, not a test: it exits 0 even when a goal is missed (it prints MISSED);
 * only a benchmark that cannot run (PostgreSQL or Redis away, a crash) exits non-zero.
 */

interface Benchmark {
  description: string;
  load: () => Promise<{ run: () => Promise<void> }>;
}

const BENCHMARKS: Record<string, Benchmark> = {
  fleet: {
    description: '2,000 simulated workers on the real heartbeat code; reaper cycle time and detection delay',
    load: () => import('./fleet.bench'),
  },
  execution: {
    description:
      'no-op jobs through API → PostgreSQL → queue → worker → stream → PostgreSQL vs raw BullMQ; latency; Docker run vs raw dockerode',
    load: () => import('./execution.bench'),
  },
};

/** BSD sysexits EX_USAGE. */
const EX_USAGE = 64;

function usage(): string {
  const names = Object.entries(BENCHMARKS).map(([n, b]) => `  ${n.padEnd(12)} ${b.description}`);
  return [
    'usage: npm run bench [-- <benchmark> ...]',
    '',
    'Without a name every benchmark runs. Benchmarks:',
    ...names,
    '',
    'Results are printed and written to bench/results/<benchmark>.json.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv.some((a) => a === '-h' || a === '--help')) {
    console.log(usage());
    return 0;
  }
  const unknown = argv.filter((a) => !(a in BENCHMARKS));
  if (unknown.length) {
    console.error(`unknown benchmark: ${unknown.join(', ')}\n`);
    console.error(usage());
    return EX_USAGE;
  }
  const names = argv.length ? [...new Set(argv)] : Object.keys(BENCHMARKS);
  for (const name of names) {
    console.log(`\n=== bench: ${name} ===`);
    const mod = await BENCHMARKS[name]!.load();
    await mod.run();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // no process.exit on success: a benchmark that leaves a handle open shows up as a hang
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
