import type { RunSpec } from '@agentfleet/execution';
import { NOOP_COMMAND, ProcessRuntime } from './process.runtime';

const spec = (command: string[]): RunSpec => ({
  jobId: '00000000-0000-4000-8000-000000000001',
  attempt: 1,
  organizationId: '00000000-0000-4000-8000-000000000002',
  image: 'agentfleet/agent-runtime:dev',
  command,
  env: {},
  secretEnv: {},
  memoryLimitMb: 64,
  cpu: 0.5,
  pidsLimit: 64,
  timeoutMs: 10_000,
  network: false,
});

describe('ProcessRuntime no-op command', () => {
  // a cgroup root that does not exist: any attempt to set up a real process would fail on it
  const runtime = new ProcessRuntime({ memoryCap: 'cgroup-v2', cgroupRoot: '/nonexistent' });

  it('starts and completes without spawning anything', async () => {
    const started: string[] = [];
    const out = await runtime.run(spec([NOOP_COMMAND]), {
      onStdout: () => undefined,
      onStderr: () => undefined,
      signal: new AbortController().signal,
      onStarted: (id) => started.push(id),
    });
    expect(started).toHaveLength(1);
    expect(out).toMatchObject({
      containerId: started[0],
      exitCode: 0,
      oomKilled: false,
      timedOut: false,
      cancelled: false,
      evidence: { runtime: 'process', noop: true },
    });
  });

  it('is cancelled like any job when the signal was already aborted', async () => {
    const c = new AbortController();
    c.abort('cancel');
    const out = await runtime.run(spec([NOOP_COMMAND]), {
      onStdout: () => undefined,
      onStderr: () => undefined,
      signal: c.signal,
    });
    expect(out).toMatchObject({ cancelled: true, exitCode: null });
  });

  it('takes only the exact one-element argv', async () => {
    // with an argument it is a real command, so the (missing) memory cap is needed and refuses it
    await expect(
      runtime.run(spec([NOOP_COMMAND, 'x']), {
        onStdout: () => undefined,
        onStderr: () => undefined,
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow();
  });
});
