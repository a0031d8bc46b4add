import { waitFor } from '@agentfleet/testing';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';
import { type RunningProcess, startExecutionWorker } from './support/processes';

const IMAGE = 'agentfleet/agent-runtime:dev';

interface Job {
  id: string;
  memory_limit_mb: number;
  retries: { max: number; used: number };
  status: string;
  attempt: number;
  exit_code: number | null;
  result: unknown;
  error: string | null;
  oom_evidence: unknown;
  progress: number;
  worker_id: string | null;
}

/** Submits jobs through the API and runs them on a real worker process with the real Docker runtime. */
describe('execution jobs end to end on Docker', () => {
  let cp: InProcessControlPlane & { url: string };
  let worker: RunningProcess;

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '1000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '4000',
    });
    await cp
      .as(cp.adminKey)
      .post('/api/v1/execution-targets', {
        name: 'local-docker',
        type: 'docker',
        worker_pool: 'default',
        allowed_images: ['agentfleet/*'],
        capacity: { max_memory_mb: 1024, max_cpu: 2, max_concurrent: 4 },
      })
      .expect(201);
    const token = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/worker-tokens', { name: 'docker-worker', capabilities: ['execute'] })
        .expect(201)
    ).body as { token: string };
    worker = await startExecutionWorker(token.token, cp.url, {
      AGENTFLEET_WORKER_INSTANCE_ID: 'docker-worker-1',
      AGENTFLEET_WORKER_SLOTS: '2',
    });
  });

  afterAll(async () => {
    worker.kill('SIGTERM');
    await worker.exited;
    await cp.close();
  });

  const submit = async (body: Record<string, unknown>) =>
    (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/jobs', { image: IMAGE, memory_limit_mb: 128, timeout_seconds: 60, ...body })
        .expect(201)
    ).body as Job;
  const get = async (id: string) =>
    (await cp.as(cp.adminKey).get(`/api/v1/jobs/${id}`).expect(200)).body as Job;
  const until = (id: string, statuses: string[], timeoutMs = 60_000) =>
    waitFor(
      async () => {
        const j = await get(id);
        return statuses.includes(j.status) ? j : undefined;
      },
      { timeoutMs, intervalMs: 200, what: `job ${id} to reach ${statuses.join('/')}` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- worker output ---\n${worker.output().slice(-4000)}`);
    });

  it('runs a job to completion with its streamed progress, logs and result persisted', async () => {
    const script = [
      'const p = (o) => console.log(JSON.stringify({ v: 1, ...o }));',
      "p({ type: 'progress', progress: 0.5, message: 'half' });",
      "console.log('a plain line');",
      "p({ type: 'result', output: { answer: 42 } });",
    ].join(' ');
    const job = await submit({ command: ['node', '-e', script] });
    expect(job.status).toBe('queued');
    const done = await until(job.id, ['completed', 'failed', 'oom', 'timed_out']);
    expect(done).toMatchObject({ status: 'completed', exit_code: 0, result: { answer: 42 }, progress: 1 });
    const logs = (await cp.as(cp.adminKey).get(`/api/v1/jobs/${job.id}/logs`).expect(200)).body as {
      items: { message: string }[];
    };
    expect(logs.items.map((l) => l.message)).toContain('a plain line');
  });

  it('fails a job that exits non-zero, with its exit code', async () => {
    const job = await submit({ command: ['node', '-e', 'process.exit(3)'] });
    const done = await until(job.id, ['completed', 'failed', 'oom', 'timed_out']);
    expect(done).toMatchObject({ status: 'failed', exit_code: 3 });
  });

  it('ends a job that allocates past its 64 MiB limit as oom, with the engine evidence', async () => {
    const job = await submit({
      memory_limit_mb: 64,
      command: ['node', '-e', 'const a = []; for (;;) { a.push(Buffer.alloc(8 * 1024 * 1024, 1)); }'],
    });
    const done = await until(job.id, ['completed', 'failed', 'oom', 'timed_out']);
    expect(done.status).toBe('oom');
    expect(done.oom_evidence).toBeTruthy();
  });

  it('ends a job past its deadline as timed_out', async () => {
    const job = await submit({ timeout_seconds: 2, command: ['node', '-e', 'setInterval(() => {}, 1000)'] });
    const done = await until(job.id, ['completed', 'failed', 'oom', 'timed_out']);
    expect(done.status).toBe('timed_out');
  });

  it('cancels a running job: the container stops within seconds', async () => {
    const job = await submit({ command: ['node', '-e', "console.log('up'); setInterval(() => {}, 1000)"] });
    await until(job.id, ['running']);
    const asked = Date.now();
    await cp.as(cp.adminKey).post(`/api/v1/jobs/${job.id}/cancel`).expect(200);
    const done = await until(job.id, ['cancelled', 'completed', 'failed'], 20_000);
    expect(done.status).toBe('cancelled');
    expect(Date.now() - asked).toBeLessThan(15_000); // generous: the 2 s goal is measured in the benchmark, not asserted here
  });

  it('refuses an image outside the allow-list and a memory limit over the cap, enqueueing nothing', async () => {
    const before = ((await cp.as(cp.adminKey).get('/api/v1/jobs').expect(200)).body as { total: number })
      .total;
    const img = await cp
      .as(cp.adminKey)
      .post('/api/v1/jobs', { image: 'evil/image', command: ['x'] })
      .expect(400);
    expect(img.body.errors[0].field).toBe('image');
    const mem = await cp
      .as(cp.adminKey)
      .post('/api/v1/jobs', { image: IMAGE, command: ['x'], memory_limit_mb: 4096 })
      .expect(400);
    expect(mem.body.errors[0].field).toBe('memory_limit_mb');
    const floor = await cp
      .as(cp.adminKey)
      .post('/api/v1/jobs', { image: IMAGE, command: ['x'], memory_limit_mb: 8 })
      .expect(400);
    expect(floor.body.errors[0].field).toBe('memory_limit_mb');
    const cmd = await cp
      .as(cp.adminKey)
      .post('/api/v1/jobs', { image: IMAGE, command: 'rm -rf /' })
      .expect(400);
    expect(cmd.body.errors[0].field).toBe('command');
    const pool = await cp
      .as(cp.adminKey)
      .post('/api/v1/jobs', { image: IMAGE, command: ['x'], pool: 'nowhere' })
      .expect(400);
    expect(pool.body.errors[0].field).toBe('pool');
    expect(((await cp.as(cp.adminKey).get('/api/v1/jobs').expect(200)).body as { total: number }).total).toBe(
      before,
    );
  });

  it('retries an OOM once with double the memory when the job opts in', async () => {
    // needs ~100 MiB: dies at 64, fits in 128
    const script =
      "const a = []; for (let i = 0; i < 12; i++) a.push(Buffer.alloc(8 * 1024 * 1024, 1)); console.log(JSON.stringify({v:1,type:'result',output:a.length}))";
    const job = await submit({
      memory_limit_mb: 64,
      oom_retry: { enabled: true, max_memory_mb: 256 },
      command: ['node', '-e', script],
    });
    const done = await until(job.id, ['completed', 'failed', 'oom', 'timed_out']);
    expect(done).toMatchObject({ status: 'completed', attempt: 2, memory_limit_mb: 128, result: 12 });
    expect((done as Job & { last_failure_reason: string }).last_failure_reason).toContain('oom at 64');
  });

  it('retries a failing job up to its maximum, then fails it', async () => {
    const job = await submit({
      retries: { max: 1, backoff_ms: 100 },
      command: ['node', '-e', 'process.exit(2)'],
    });
    const done = await until(job.id, ['completed', 'failed', 'oom', 'timed_out']);
    expect(done).toMatchObject({ status: 'failed', attempt: 2, exit_code: 2, retries: { max: 1, used: 1 } });
  });

  it('cancels a queued job at once and removes it from its queue', async () => {
    await cp.as(cp.adminKey).post('/api/v1/admin/queues/default/pause').expect(200);
    try {
      const job = await submit({ command: ['node', '-e', "console.log('must not run')"] });
      const res = await cp.as(cp.adminKey).post(`/api/v1/jobs/${job.id}/cancel`).expect(200);
      expect(res.body.status).toBe('cancelled');
      const q = (await cp.as(cp.adminKey).get('/api/v1/admin/queues').expect(200)).body as {
        items: { counts: Record<string, number> }[];
      };
      expect((q.items[0]!.counts['waiting'] ?? 0) + (q.items[0]!.counts['prioritized'] ?? 0)).toBe(0);
    } finally {
      await cp.as(cp.adminKey).post('/api/v1/admin/queues/default/resume').expect(200);
    }
  });

  it('returns the same job for the same idempotency key', async () => {
    const body = { image: IMAGE, command: ['node', '-e', '0'], idempotency_key: 'once' };
    const a = await cp.as(cp.adminKey).post('/api/v1/jobs', body).expect(201);
    const b = await cp.as(cp.adminKey).post('/api/v1/jobs', body).expect(200);
    expect(b.body.id).toBe(a.body.id);
    await until(a.body.id, ['completed']);
  });
});
