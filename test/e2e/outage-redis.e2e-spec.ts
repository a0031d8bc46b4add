import { Client } from 'pg';
import { type TestDatabase, createTestDatabase, waitFor } from '@agentfleet/testing';
import { type ControlPlaneProcess, startControlPlaneProcess } from './support/control-plane-process';
import {
  type RunningProcess,
  freePort,
  removeJobContainers,
  startExecutionWorker,
} from './support/processes';
import { progressJobScript, progressMessages } from './support/progress-job';
import { OwnRedisServer } from './support/redis-server';

const IMAGE = 'agentfleet/agent-runtime:dev';
const JOBS = 4;
const STEPS = 6;
/** Longer than the worker grace period below: every heartbeat is older than it when Redis is back. */
const OUTAGE_MS = 10_000;
const TERMINAL = ['completed', 'failed', 'oom', 'timed_out', 'cancelled', 'failed_circuit_open'];

interface Job {
  id: string;
  status: string;
  attempt: number;
  progress: number;
  result: unknown;
}

/**
 * Redis (with AOF, so its data survives) is killed mid-run and started again on the same port and
 * data dir. The worker and the control plane reconnect; every job, including one submitted while Redis
 * was down, ends exactly once.
 */
describe('outage: a Redis restart while jobs run', () => {
  let redis: OwnRedisServer | undefined;
  let db: TestDatabase | undefined;
  let cp: ControlPlaneProcess | undefined;
  let worker: RunningProcess | undefined;
  const jobIds: string[] = [];

  beforeAll(async () => {
    redis = new OwnRedisServer(await freePort(), { appendOnly: true });
    await redis.start();
    db = await createTestDatabase();
    cp = await startControlPlaneProcess({
      AGENTFLEET_DATABASE_URL: db.url,
      AGENTFLEET_MIGRATE_ON_START: 'false',
      AGENTFLEET_REDIS_URL: redis.url,
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '1000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '8000',
      AGENTFLEET_REAPER_INTERVAL_MS: '500',
      AGENTFLEET_LEADER_LOCK_TTL_MS: '2000',
    });
    const target = await cp.api('POST', '/api/v1/execution-targets', {
      name: 'local-docker',
      type: 'docker',
      allowed_images: ['agentfleet/*'],
    });
    expect(target.status).toBe(201);
    const token = await cp.api<{ token: string }>('POST', '/api/v1/worker-tokens', {
      name: 'outage-worker',
      capabilities: ['execute'],
    });
    expect(token.status).toBe(201);
    worker = await startExecutionWorker(token.body.token, cp.url, {
      AGENTFLEET_REDIS_URL: redis.url,
      AGENTFLEET_WORKER_INSTANCE_ID: 'redis-outage-worker',
      AGENTFLEET_WORKER_SLOTS: '2',
    });
  }, 120_000);

  afterAll(async () => {
    // everything this file started goes, whatever state the test left it in
    for (const p of [worker, cp]) p?.kill('SIGKILL');
    await Promise.all([worker?.exited, cp?.exited]);
    await removeJobContainers(jobIds);
    await redis?.destroy();
    await db?.drop();
  }, 60_000);

  const diagnostics = () =>
    [
      '--- control plane ---',
      cp?.output().slice(-6000),
      '--- worker ---',
      worker?.output().slice(-6000),
    ].join('\n');
  const submit = () =>
    cp!.api<Job>('POST', '/api/v1/jobs', {
      image: IMAGE,
      command: ['node', '-e', progressJobScript(STEPS)],
      memory_limit_mb: 128,
      timeout_seconds: 300,
    });

  it('reconnects the worker and the control plane; every job, one submitted during the outage too, ends exactly once', async () => {
    const api = cp!;
    for (let i = 0; i < JOBS; i++) {
      const res = await submit();
      expect(res.status).toBe(201);
      jobIds.push(res.body.id);
    }
    // the worker has two slots: two jobs run when Redis goes, two wait in the queue (kept by the AOF)
    await waitFor(
      async () => {
        const res = await api.api<{ items: Job[] }>('GET', '/api/v1/jobs?status=running');
        return res.status === 200 && res.body.items.length >= 2;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'two jobs running' },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${diagnostics()}`);
    });

    await redis!.stop('SIGKILL');
    const downAt = Date.now();
    // PostgreSQL takes the job; the enqueue fails at once (no offline queue): it is accepted all the
    // same, as `queued`, and the dispatcher sweep enqueues it once Redis is back
    const during = await submit();
    expect(during.status).toBe(201);
    expect(during.body.status).toBe('queued');
    jobIds.push(during.body.id);
    await waitFor(() => worker!.output().includes('heartbeat failed: Redis unreachable'), {
      timeoutMs: OUTAGE_MS,
      what: 'the worker to log the outage',
    });
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    await redis!.start();

    const ended = await waitFor(
      async () => {
        const res = await api.api<{ items: Job[] }>('GET', '/api/v1/jobs?limit=100');
        if (res.status !== 200) return undefined;
        const mine = res.body.items.filter((j) => jobIds.includes(j.id));
        return mine.length === jobIds.length && mine.every((j) => TERMINAL.includes(j.status))
          ? mine
          : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500, what: 'every job to end after Redis is back' },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${diagnostics()}`);
    });
    // attempt 1 everywhere: the worker was never taken for lost, so nothing ran twice
    for (const j of ended) {
      expect(j).toMatchObject({ status: 'completed', attempt: 1, progress: 1, result: { steps: STEPS } });
    }

    const c = new Client({ connectionString: db!.url });
    await c.connect();
    try {
      for (const id of jobIds) {
        const rows = (
          await c.query<{ type: string; attempt: number; data: { message?: string } }>(
            'SELECT type, attempt, data FROM execution_job_events WHERE job_id = $1 ORDER BY id',
            [id],
          )
        ).rows;
        expect(rows.filter((e) => e.type === 'started')).toHaveLength(1);
        expect(rows.filter((e) => e.type === 'finished')).toEqual([
          expect.objectContaining({ type: 'finished', attempt: 1 }),
        ]);
        expect(rows.filter((e) => e.type === 'progress').map((e) => e.data.message)).toEqual(
          progressMessages(STEPS),
        );
      }
    } finally {
      await c.end();
    }

    const cpLog = cp!.output();
    const workerLog = worker!.output();
    // both sides saw the outage and came back
    expect(cpLog).toMatch(/Redis redis:\/\/127\.0\.0\.1:\d+\/? reconnecting/);
    expect(cpLog.match(/"msg":"Redis ready"/g)?.length).toBeGreaterThanOrEqual(2);
    expect(workerLog).toContain('Redis reachable again; heartbeats resumed');
    // the AOF kept the worker's state: it did not have to register again
    expect(workerLog).not.toContain('registering again');
    // the reaper gave the worker time to reconnect instead of declaring it lost
    expect(cpLog).toContain('Redis is back: no worker is declared lost');
    expect(cpLog).not.toContain('worker lost');
    // the job accepted during the outage reached the queue through the dispatcher sweep
    expect(cpLog).toContain('job accepted but not enqueued');
    const swept = cpLog
      .split('\n')
      .filter((l) => l.includes('enqueued by the dispatcher sweep'))
      .map((l) => (JSON.parse(l) as { job_id: string }).job_id);
    expect(swept).toEqual([during.body.id]);
  }, 300_000);
});
