import { EXIT } from './exit-codes';

/**
 * The program inside an execution container: reads its task and engine from the environment, calls the
 * provider, and prints one JSON runtime event per line on stdout (libs/contracts runtime-events).
 * `--noop` prints nothing and exits 0 (the execution benchmark).
 */
async function main(): Promise<number> {
  // decided before anything else is loaded: the benchmark runs thousands of no-op containers and the
  // engine code (zod, the contracts) would dominate their start-up
  if (process.argv.slice(2).includes('--noop')) return EXIT.ok;
  const stop = new AbortController();
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => stop.abort(s));
  const { runAgent } = await import('./run-agent');
  return runAgent(process.env, (line) => process.stdout.write(`${line}\n`), stop.signal);
}

// exit only once stdout is flushed: a piped stdout may still hold the result event
main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e: unknown) => {
    const message = `agent-runtime crashed: ${e instanceof Error ? e.message : String(e)}`;
    process.stdout.write(`${JSON.stringify({ v: 1, type: 'log', level: 'error', message })}\n`, () =>
      process.exit(EXIT.failed),
    );
  },
);
