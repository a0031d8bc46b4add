import { randomBytes, randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import {
  ATTEMPT_LABEL,
  JOB_LABEL,
  ORG_LABEL,
  type RunIO,
  type RunOutcome,
  type RunSpec,
} from '@agentfleet/execution';
import {
  TEST_DOCKER_SOCKET,
  assertDockerAvailable,
  createTestDocker,
  ensureRuntimeImage,
  waitFor,
} from '@agentfleet/testing';
import { DockerRuntime } from './docker.runtime';

/** Every container these tests create carries it, so afterAll can remove whatever a failed test left. */
const TEST_RUN_LABEL = 'agentfleet.test_run';
const testRun = randomBytes(6).toString('hex');

let docker: Docker;
let runtime: DockerRuntime;
let image: string;

beforeAll(async () => {
  await assertDockerAvailable();
  image = await ensureRuntimeImage();
  docker = createTestDocker();
  runtime = new DockerRuntime({ socketPath: TEST_DOCKER_SOCKET }, { labels: { [TEST_RUN_LABEL]: testRun } });
}, 240_000);

afterAll(async () => {
  if (!docker) return;
  const left = await docker.listContainers({
    all: true,
    filters: { label: [`${TEST_RUN_LABEL}=${testRun}`] },
  });
  await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
});

function specFor(script: string, overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    jobId: randomUUID(),
    attempt: 1,
    organizationId: randomUUID(),
    image,
    command: ['node', '-e', script],
    env: {},
    secretEnv: {},
    memoryLimitMb: 128,
    cpu: 0.5,
    pidsLimit: 64,
    timeoutMs: 60_000,
    network: false,
    ...overrides,
  };
}

function collectingIO() {
  const abort = new AbortController();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const started: string[] = [];
  const io: RunIO = {
    onStdout: (line) => stdout.push(line),
    onStderr: (line) => stderr.push(line),
    onStarted: (id) => started.push(id),
    signal: abort.signal,
  };
  return { io, abort, stdout, stderr, started };
}

async function containersOfJob(jobId: string) {
  return docker.listContainers({ all: true, filters: { label: [`${JOB_LABEL}=${jobId}`] } });
}

async function expectGone(outcome: RunOutcome) {
  await expect(docker.getContainer(outcome.containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
}

describe('DockerRuntime (real Docker Engine)', () => {
  it('runs a job to success and delivers its output as complete lines in order, then removes the container', async () => {
    // partial writes, a line split across writes and a UTF-8 character split across two writes, many
    // lines in a burst, stderr alongside, and a last line without a newline
    const script = `
      const w = (s) => new Promise((r) => process.stdout.write(s, r));
      (async () => {
        await w('first\\n');
        await w('sec'); await new Promise((r) => setTimeout(r, 50)); await w('ond\\n');
        await w(Buffer.from([0x68, 0xc3])); await w(Buffer.from([0xa9, 0x0a]));
        let burst = ''; for (let i = 0; i < 500; i++) burst += 'line ' + i + '\\n'; await w(burst);
        process.stderr.write('warning 1\\nwarning 2\\n');
        await w('greeting=' + process.env.GREETING + '\\n');
        await w('secret=' + process.env.SECRET_GREETING + '\\n');
        await w('last without newline');
      })();`;
    const { io, stdout, stderr, started } = collectingIO();
    const outcome = await runtime.run(
      specFor(script, {
        env: { GREETING: 'hello world' },
        secretEnv: { SECRET_GREETING: 'hello secret' },
      }),
      io,
    );

    expect(outcome).toMatchObject({ exitCode: 0, oomKilled: false, timedOut: false, cancelled: false });
    expect(stdout).toEqual([
      'first',
      'second',
      'hé',
      ...Array.from({ length: 500 }, (_, i) => `line ${i}`),
      'greeting=hello world',
      'secret=hello secret',
      'last without newline',
    ]);
    expect(stderr).toEqual(['warning 1', 'warning 2']);
    expect(started).toEqual([outcome.containerId]);
    expect(outcome.startLatencyMs).toBeGreaterThanOrEqual(0);
    expect(outcome.finishedAt.getTime()).toBeGreaterThanOrEqual(outcome.startedAt.getTime());
    expect(outcome.evidence).toMatchObject({ engine: 'docker', state: { ExitCode: 0, OOMKilled: false } });
    await expectGone(outcome);
  });

  it("runs the image's agent-runtime entry point (--noop exits 0)", async () => {
    const { io } = collectingIO();
    const outcome = await runtime.run(
      specFor('', { command: ['node', '/app/dist/apps/agent-runtime/src/main.js', '--noop'] }),
      io,
    );
    expect(outcome).toMatchObject({ exitCode: 0, oomKilled: false, timedOut: false, cancelled: false });
  });

  it('reports a non-zero exit as a normal outcome with its exit code', async () => {
    const { io, stderr } = collectingIO();
    const outcome = await runtime.run(specFor('console.error("bad input"); process.exit(3)'), io);
    expect(outcome).toMatchObject({ exitCode: 3, oomKilled: false, timedOut: false, cancelled: false });
    expect(stderr).toEqual(['bad input']);
    await expectGone(outcome);
  });

  it('reports a command the image does not have as a failed job (exit 127), not an engine failure', async () => {
    const { io, stderr } = collectingIO();
    const outcome = await runtime.run(specFor('', { command: ['/no/such/program', '--flag'] }), io);
    expect(outcome).toMatchObject({ exitCode: 127, oomKilled: false, timedOut: false, cancelled: false });
    expect(stderr.join('\n')).toContain('/no/such/program');
    await expectGone(outcome);
  });

  it("reports oomKilled, with the engine's evidence, when the job allocates past its 64 MiB limit", async () => {
    // Buffers live outside the V8 heap and fill() touches every page, so the cgroup (not V8) hits its limit
    const script = `
      const kept = [];
      console.log('allocating');
      setInterval(() => { for (let i = 0; i < 8; i++) kept.push(Buffer.alloc(1024 * 1024, 1)); }, 5);`;
    const { io, stdout } = collectingIO();
    const outcome = await runtime.run(specFor(script, { memoryLimitMb: 64 }), io);

    expect(stdout).toEqual(['allocating']);
    expect(outcome).toMatchObject({ exitCode: 137, oomKilled: true, timedOut: false, cancelled: false });
    expect(outcome.evidence).toMatchObject({
      state: { OOMKilled: true, ExitCode: 137 },
      memoryLimitBytes: 64 * 1024 * 1024,
    });
    expect(outcome.peakMemoryMb).toBeGreaterThanOrEqual(64);
    await expectGone(outcome);
  });

  it('stops a job past its deadline, reports timedOut and leaves no container', async () => {
    const { io, stdout } = collectingIO();
    const spec = specFor('console.log("working"); setInterval(() => {}, 1000)', { timeoutMs: 1500 });
    const outcome = await runtime.run(spec, io);

    expect(stdout).toEqual(['working']);
    expect(outcome).toMatchObject({ timedOut: true, cancelled: false, oomKilled: false });
    expect(outcome.exitCode).not.toBe(0);
    expect(outcome.evidence).toMatchObject({ stoppedBy: 'timeout' });
    await expectGone(outcome);
    expect(await containersOfJob(spec.jobId)).toEqual([]);
  });

  it('stops a running job when its AbortSignal fires (SIGKILL after the grace even if it ignores SIGTERM) and reports cancelled', async () => {
    const { io, abort, stdout } = collectingIO();
    const spec = specFor(
      'process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("ready"); setInterval(() => {}, 1000)',
    );
    let outcome: RunOutcome | undefined;
    const running = runtime.run(spec, io).then((o) => (outcome = o));

    await waitFor(() => stdout.includes('ready'), { timeoutMs: 30_000, what: 'the job to start' });
    abort.abort();
    // the port promises "within seconds"; the bound is generous for a loaded machine, not a benchmark
    await waitFor(() => outcome, { timeoutMs: 10_000, what: 'run() to settle after the abort' });
    await running;

    expect(outcome).toMatchObject({ cancelled: true, timedOut: false, oomKilled: false, exitCode: 137 });
    expect(stdout).toEqual(['ready', 'ignoring SIGTERM']);
    await expectGone(outcome!);
    expect(await containersOfJob(spec.jobId)).toEqual([]);
  });

  it('reports cancelled without starting anything when the signal fired before run()', async () => {
    const { io, abort, started } = collectingIO();
    abort.abort();
    const spec = specFor('console.log("never")');
    const outcome = await runtime.run(spec, io);
    expect(outcome).toMatchObject({ cancelled: true, exitCode: null });
    expect(started).toEqual([]);
    expect(await containersOfJob(spec.jobId)).toEqual([]);
  });

  it("removeOrphans removes every container labelled with the job id (running or not) and leaves other jobs' containers", async () => {
    const orphanJob = randomUUID();
    const otherJob = randomUUID();
    const create = (jobId: string, attempt: number) =>
      docker.createContainer({
        Image: image,
        Entrypoint: ['node'],
        Cmd: ['-e', 'setInterval(() => {}, 1000)'],
        Labels: { [JOB_LABEL]: jobId, [ATTEMPT_LABEL]: String(attempt), [TEST_RUN_LABEL]: testRun },
        HostConfig: { NetworkMode: 'none' },
      });
    // what a dead worker leaves behind: a running attempt and one that never started
    const running = await create(orphanJob, 1);
    await running.start();
    const createdOnly = await create(orphanJob, 2);
    const other = await create(otherJob, 1);
    await other.start();

    expect(await runtime.removeOrphans(orphanJob)).toBe(2);

    expect(await containersOfJob(orphanJob)).toEqual([]);
    await expect(running.inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect(createdOnly.inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect((await other.inspect()).State.Running).toBe(true);
    expect(await runtime.removeOrphans(randomUUID())).toBe(0);
    await other.remove({ force: true });
  });

  it('runs the container locked down: read-only root, no capabilities, no network, non-root, limits, no-new-privileges, job labels', async () => {
    const { io, abort, stdout, started } = collectingIO();
    const script = `
      const os = require('node:os');
      console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), interfaces: Object.keys(os.networkInterfaces()) }));
      setInterval(() => {}, 1000);`;
    const spec = specFor(script, { memoryLimitMb: 96, cpu: 0.25, pidsLimit: 32, env: { A: '1' } });
    const running = runtime.run(spec, io);

    await waitFor(() => stdout.length > 0, { timeoutMs: 30_000, what: 'the job to print its identity' });
    const info = await docker.getContainer(started[0]!).inspect();
    abort.abort();
    await running;

    expect(info.HostConfig).toMatchObject({
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      Privileged: false,
      NetworkMode: 'none',
      Memory: 96 * 1024 * 1024,
      MemorySwap: 96 * 1024 * 1024,
      NanoCpus: 250_000_000,
      PidsLimit: 32,
    });
    // not in dockerode's inspect typings, but in the engine's answer
    expect((info.Config as { NetworkDisabled?: boolean }).NetworkDisabled).toBe(true);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(Object.keys(info.HostConfig.Tmpfs ?? {})).toEqual(['/tmp']);
    expect(info.Config.User).toBe('65534:65534');
    expect(info.Config.Env).toContain('A=1');
    expect(info.Config.Labels).toMatchObject({
      [JOB_LABEL]: spec.jobId,
      [ATTEMPT_LABEL]: '1',
      [ORG_LABEL]: spec.organizationId,
    });
    expect(JSON.parse(stdout[0]!)).toEqual({ uid: 65534, gid: 65534, interfaces: ['lo'] });
  });

  it('lets the job write to /tmp but not to the root filesystem', async () => {
    const script = `
      const fs = require('node:fs');
      for (const path of ['/app/written', '/written']) {
        try { fs.writeFileSync(path, 'x'); console.log(path + ' ok'); } catch (e) { console.log(path + ' ' + e.code); }
      }
      fs.writeFileSync('/tmp/written', 'in tmp');
      console.log('/tmp ' + fs.readFileSync('/tmp/written', 'utf8'));`;
    const { io, stdout } = collectingIO();
    const outcome = await runtime.run(specFor(script), io);
    expect(outcome.exitCode).toBe(0);
    expect(stdout).toEqual(['/app/written EROFS', '/written EROFS', '/tmp in tmp']);
  });

  it('rejects run() and ping() when the Docker daemon is unreachable (what the circuit breaker counts)', async () => {
    const unreachable = new DockerRuntime({ socketPath: `/tmp/no-docker-${testRun}/docker.sock` });
    const { io } = collectingIO();
    await expect(unreachable.ping()).rejects.toThrow();
    await expect(unreachable.run(specFor('console.log(1)'), io)).rejects.toThrow();
    await expect(unreachable.removeOrphans(randomUUID())).rejects.toThrow();
    await expect(runtime.ping()).resolves.toBeUndefined();
  });

  it('rejects run() when the engine cannot get the image', async () => {
    const { io } = collectingIO();
    const spec = specFor('', { image: `agentfleet/no-such-image-${testRun}:missing` });
    await expect(runtime.run(spec, io)).rejects.toThrow();
    expect(await containersOfJob(spec.jobId)).toEqual([]);
  });
});
