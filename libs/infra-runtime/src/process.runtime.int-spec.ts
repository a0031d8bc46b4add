import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunIO, RunOutcome, RunSpec } from '@agentfleet/execution';
import { waitFor } from '@agentfleet/testing';
import { ProcessRuntime } from './process.runtime';

const NODE = process.execPath;
const AGENT_RUNTIME = join(__dirname, '../../../dist/apps/agent-runtime/src/main.js');
/** Real cgroups: v1 with a writable memory hierarchy (this machine), or a unified v2 hierarchy. */
const HAS_CGROUPS =
  existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') ||
  existsSync('/sys/fs/cgroup/cgroup.controllers');
const withCgroups = HAS_CGROUPS ? it : it.skip;
if (!HAS_CGROUPS)
  console.warn('process.runtime.int-spec: no cgroup hierarchy here; cgroup tests are skipped');

function spec(command: string[], overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    jobId: randomUUID(),
    attempt: 1,
    organizationId: randomUUID(),
    image: 'ignored/by-the-process-runtime:1',
    command,
    env: {},
    secretEnv: {},
    memoryLimitMb: 256,
    cpu: 1,
    pidsLimit: 64,
    timeoutMs: 60_000,
    network: false,
    ...overrides,
  };
}

interface Recorded {
  io: RunIO;
  stdout: string[];
  stderr: string[];
  started: string[];
  abort(): void;
}

function record(): Recorded {
  const controller = new AbortController();
  const r: Recorded = {
    stdout: [],
    stderr: [],
    started: [],
    abort: () => controller.abort(),
    io: {
      onStdout: (l) => r.stdout.push(l),
      onStderr: (l) => r.stderr.push(l),
      onStarted: (id) => r.started.push(id),
      signal: controller.signal,
    },
  };
  return r;
}

/** Alive and not a zombie (an orphan's zombie lingers until init reaps it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function expectCleanedUp(outcome: RunOutcome, workDir?: string): void {
  if (typeof outcome.evidence['cgroup'] === 'string')
    expect(existsSync(outcome.evidence['cgroup'])).toBe(false);
  if (workDir) expect(existsSync(workDir)).toBe(false);
}

describe('ProcessRuntime (real processes, real cgroups)', () => {
  const runtime = new ProcessRuntime({ stopGraceMs: 500 });

  withCgroups('caps memory with a cgroup on this host', async () => {
    expect(['cgroup-v1', 'cgroup-v2']).toContain(await runtime.memoryCapMechanism());
  });

  it('streams stdout and stderr lines in order, joins partial writes and keeps a last line without newline', async () => {
    const script = `
      const out = (s) => new Promise((r) => process.stdout.write(s, r));
      (async () => {
        process.stderr.write(JSON.stringify({ cwd: process.cwd() }) + '\\n');
        await out('one\\ntw');
        await new Promise((r) => setTimeout(r, 20));
        await out('o\\nthree\\n');
        process.stderr.write('warning: ünïcödé\\n');
        await out('four\\r\\nfive');
      })();`;
    const r = record();
    const outcome = await runtime.run(spec([NODE, '-e', script]), r.io);

    expect(outcome.exitCode).toBe(0);
    expect(r.stdout).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(r.stderr[1]).toBe('warning: ünïcödé');
    expect(outcome).toMatchObject({ oomKilled: false, timedOut: false, cancelled: false });
    expect(r.started).toEqual([outcome.containerId]);
    expect(outcome.evidence).toMatchObject({ runtime: 'process', image: 'ignored/by-the-process-runtime:1' });
    expect(outcome.finishedAt.getTime()).toBeGreaterThanOrEqual(outcome.startedAt.getTime());
    const { cwd } = JSON.parse(r.stderr[0]!) as { cwd: string };
    expect(cwd).toContain('agentfleet-');
    expectCleanedUp(outcome, cwd);
    if (HAS_CGROUPS) expect(outcome.peakMemoryMb).toBeGreaterThan(0);
  });

  it('reports a non-zero exit as it is', async () => {
    const r = record();
    const outcome = await runtime.run(
      spec([NODE, '-e', 'console.error("bad input"); process.exit(3)']),
      r.io,
    );

    expect(outcome).toMatchObject({ exitCode: 3, oomKilled: false, timedOut: false, cancelled: false });
    expect(r.stderr).toEqual(['bad input']);
    expectCleanedUp(outcome);
  });

  it('reports a program that does not exist as exit 127', async () => {
    const outcome = await runtime.run(spec(['/nonexistent/agent']), record().io);

    expect(outcome.exitCode).toBe(127);
    expect(outcome.oomKilled).toBe(false);
    expectCleanedUp(outcome);
  });

  withCgroups(
    'kills a job that allocates past its 64 MiB cgroup limit and reports the OOM with evidence',
    async () => {
      const grow = 'const keep = []; for (;;) keep.push(Buffer.alloc(8 << 20, 1));';
      const outcome = await runtime.run(spec([NODE, '-e', grow], { memoryLimitMb: 64 }), record().io);

      expect(outcome.oomKilled).toBe(true);
      expect(outcome.exitCode).toBe(137);
      expect(outcome.timedOut).toBe(false);
      expect(outcome.evidence).toMatchObject({ exitSignal: 'SIGKILL', limitBytes: 64 * 1024 * 1024 });
      const counter =
        (outcome.evidence['oomControl'] as Record<string, number> | undefined)?.['oom_kill'] ??
        (outcome.evidence['memoryEvents'] as Record<string, number> | undefined)?.['oom_kill'];
      expect(counter).toBeGreaterThanOrEqual(1);
      expect(outcome.peakMemoryMb).toBeGreaterThan(32);
      expect(outcome.peakMemoryMb).toBeLessThanOrEqual(64);
      expectCleanedUp(outcome);
    },
  );

  it('without cgroups, caps the address space with prlimit and reads an allocation failure as OOM (best effort)', async () => {
    // Node reserves ~1.2 GB of address space just to start: the rlimit has to leave room for that
    // auto-selection on a host whose cgroup hierarchies are missing (or read-only, as in most containers)
    const rlimit = new ProcessRuntime({ cgroupRoot: '/nonexistent/cgroup' });
    const grow = 'const keep = []; for (;;) keep.push(Buffer.alloc(256 << 20, 1));';
    const r = record();
    const outcome = await rlimit.run(spec([NODE, '-e', grow], { memoryLimitMb: 1536 }), r.io);

    expect(await rlimit.memoryCapMechanism()).toBe('rlimit');
    expect(outcome.exitCode).not.toBe(0);
    expect(outcome.oomKilled).toBe(true);
    expect(outcome.evidence).toMatchObject({
      memoryCap: 'rlimit',
      oomEvidence: 'rlimit',
      addressSpaceLimitBytes: 1536 * 1024 * 1024,
    });
    expect(String(outcome.evidence['allocationFailure'])).toMatch(/alloc|memory/i);
  });

  it('stops a job past its deadline: SIGTERM first, SIGKILL when it does not leave', async () => {
    const stubborn = `
      process.on('SIGTERM', () => console.log('asked to stop, staying'));
      console.log('ready');
      setInterval(() => {}, 1000);`;
    const r = record();
    const outcome = await runtime.run(spec([NODE, '-e', stubborn], { timeoutMs: 500 }), r.io);

    expect(outcome).toMatchObject({ timedOut: true, cancelled: false, oomKilled: false, exitCode: 137 });
    expect(r.stdout).toEqual(['ready', 'asked to stop, staying']);
    expect(outcome.evidence).toMatchObject({ stoppedBy: 'timeout', exitSignal: 'SIGKILL' });
    expectCleanedUp(outcome);
  });

  it('stops a cancelled job', async () => {
    const r = record();
    const running = runtime.run(
      spec([NODE, '-e', 'console.log("ready"); setInterval(() => {}, 1000)']),
      r.io,
    );
    await waitFor(() => r.stdout.includes('ready'), { what: 'the job to start' });

    r.abort();
    const outcome = await running;

    expect(outcome).toMatchObject({ cancelled: true, timedOut: false, oomKilled: false });
    expect(outcome.evidence).toMatchObject({ stoppedBy: 'cancel', exitSignal: 'SIGTERM' });
    expect(outcome.exitCode).toBe(143);
    expectCleanedUp(outcome);
  });

  it('does not start a job whose signal is already aborted', async () => {
    const r = record();
    r.abort();
    const outcome = await runtime.run(spec([NODE, '-e', 'console.log("ran")']), r.io);

    expect(outcome).toMatchObject({ cancelled: true, exitCode: null });
    expect(r.stdout).toEqual([]);
    expect(r.started).toEqual([]);
  });

  it("gives the job only its spec's environment (plain and secret) plus PATH, never the worker's", async () => {
    process.env['AGENTFLEET_TEST_WORKER_SECRET'] = 'must-not-leak';
    try {
      const r = record();
      const outcome = await runtime.run(
        spec([NODE, '-e', 'console.log(JSON.stringify(process.env))'], {
          env: { JOB_VAR: 'from-spec' },
          secretEnv: { JOB_SECRET: 'from-secret-env' },
        }),
        r.io,
      );

      expect(outcome.exitCode).toBe(0);
      const env = JSON.parse(r.stdout[0]!) as Record<string, string>;
      expect(Object.keys(env).sort()).toEqual(['JOB_SECRET', 'JOB_VAR', 'PATH']);
      expect(env['JOB_VAR']).toBe('from-spec');
      expect(env['JOB_SECRET']).toBe('from-secret-env');
      expect(r.stdout.join('\n')).not.toContain('must-not-leak');
    } finally {
      delete process.env['AGENTFLEET_TEST_WORKER_SECRET'];
    }
  });

  it('kills what the job left running when its main process ends, even a process in its own session', async () => {
    const r = record();
    // one background child in the job's process group, one that escaped it with setsid
    const outcome = await runtime.run(
      spec(['/bin/sh', '-c', 'sleep 300 & echo $!; setsid sleep 300 & echo $!; sleep 0.2']),
      r.io,
    );

    expect(outcome.exitCode).toBe(0);
    const [inGroup, ownSession] = r.stdout.map(Number) as [number, number];
    await waitFor(() => !alive(inGroup), { what: 'the background child to be killed' });
    if (HAS_CGROUPS) await waitFor(() => !alive(ownSession), { what: 'the setsid child to be killed' });
    else process.kill(ownSession, 'SIGKILL'); // only a cgroup finds a process that left the group
    expectCleanedUp(outcome);
  });

  it('removeOrphans kills a running attempt of that job and counts it', async () => {
    const r = record();
    const job = spec([NODE, '-e', 'console.log("ready"); setInterval(() => {}, 1000)']);
    const running = runtime.run(job, r.io);
    await waitFor(() => r.stdout.includes('ready'), { what: 'the attempt to start' });

    expect(await runtime.removeOrphans(randomUUID())).toBe(0);
    expect(await runtime.removeOrphans(job.jobId)).toBe(1);
    const outcome = await running;

    expect(outcome).toMatchObject({ exitCode: 137, cancelled: false, timedOut: false, oomKilled: false });
    expect(outcome.evidence).toMatchObject({ stoppedBy: 'fenced' });
    expect(await runtime.removeOrphans(job.jobId)).toBe(0);
    expectCleanedUp(outcome);
  });

  withCgroups('removeOrphans of a restarted worker finds an attempt through its cgroup', async () => {
    const r = record();
    const job = spec([NODE, '-e', 'console.log("ready"); setInterval(() => {}, 1000)'], { attempt: 2 });
    const running = runtime.run(job, r.io);
    await waitFor(() => r.stdout.includes('ready'), { what: 'the attempt to start' });

    // a second instance has an empty registry, like the worker process that replaced a dead one
    const restarted = new ProcessRuntime();
    expect(await restarted.removeOrphans(job.jobId)).toBe(1);
    const outcome = await running;

    expect(outcome.exitCode).toBe(137);
    expect(outcome.oomKilled).toBe(false);
    expectCleanedUp(outcome);
  });

  it("runs the agent-runtime's --noop (the execution benchmark's job)", async () => {
    const r = record();
    const outcome = await runtime.run(spec([NODE, AGENT_RUNTIME, '--noop']), r.io);

    expect(outcome.exitCode).toBe(0);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toEqual([]);
  });

  it('ping resolves', async () => {
    await expect(runtime.ping()).resolves.toBeUndefined();
  });
});
