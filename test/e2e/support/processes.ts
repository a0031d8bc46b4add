import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');

export interface RunningProcess {
  child: ChildProcess;
  /** Everything the process printed so far (stdout + stderr). */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Runs a built entry point (dist/, built by jest's global setup) with the test's Node binary. */
export function spawnNode(entry: string, env: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', join(ROOT, 'dist', entry)], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    exited,
    kill: (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

export const CONTROL_PLANE_ENTRY = 'apps/control-plane/src/main.js';
export const WORKER_ENTRY = 'apps/worker/src/main.js';

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A real worker process that runs execution jobs, started and awaited until it consumes its queues.
 * `env` adds to or overrides the defaults (health port off, Docker runtime, the test Redis).
 */
export async function startExecutionWorker(
  token: string,
  controlPlaneUrl: string,
  env: Record<string, string> = {},
): Promise<RunningProcess> {
  const { waitFor } = await import('@agentfleet/testing');
  const w = spawnNode(WORKER_ENTRY, {
    AGENTFLEET_WORKER_TOKEN: token,
    AGENTFLEET_CONTROL_PLANE_URL: controlPlaneUrl,
    AGENTFLEET_REDIS_URL: process.env['AGENTFLEET_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    AGENTFLEET_WORKER_RUNTIMES: 'docker',
    AGENTFLEET_WORKER_HEALTH_PORT: '0',
    ...env,
  });
  await waitFor(() => w.output().includes('consuming execution queues'), {
    timeoutMs: 30_000,
    what: 'the worker to consume its queues',
  }).catch((e: Error) => {
    w.kill('SIGKILL');
    throw new Error(`${e.message}\n${w.output().slice(-2000)}`);
  });
  return w;
}

/** Force-removes every container labelled with one of these job ids (a test's leftovers, whatever state it ended in). */
export async function removeJobContainers(jobIds: readonly string[]): Promise<void> {
  const { default: Docker } = await import('dockerode');
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  for (const id of jobIds) {
    const left = await docker.listContainers({ all: true, filters: { label: [`agentfleet.job_id=${id}`] } });
    await Promise.all(
      left.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
  }
}
