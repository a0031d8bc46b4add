import { Client } from 'pg';
import { type TestRedis, createTestRedis, waitFor } from '@agentfleet/testing';
import { type ControlPlaneProcess, startControlPlaneProcess } from './support/control-plane-process';
import { OwnPostgresServer } from './support/own-postgres-server';
import {
  type RunningProcess,
  freePort,
  removeJobContainers,
  startExecutionWorker,
} from './support/processes';
import { progressJobScript, progressMessages } from './support/progress-job';

const IMAGE = 'agentfleet/agent-runtime:dev';
const JOBS = 4;
const STEPS = 6;
const OUTAGE_MS = 30_000;
const REDIS_URL = process.env['AGENTFLEET_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

interface Job {
  id: string;
  status: string;
  attempt: number;
  progress: number;
  result: unknown;
}

/**
 * PostgreSQL goes away for 30 s while jobs run. The workers never talk to it, so the jobs go on; their
 * events wait in the Redis firehose (the control plane keeps retrying its batch and acknowledges
 * nothing), and once PostgreSQL is back every event is persisted and every job ends exactly once.
 */
describe('outage: PostgreSQL unreachable for 30 s while jobs run', () => {
  let pgServer: OwnPostgresServer;
  let redis: TestRedis;
  let cp: ControlPlaneProcess | undefined;
  let worker: RunningProcess | undefined;
  const jobIds: string[] = [];

  beforeAll(async () => {
    pgServer = new OwnPostgresServer(await freePort());
    await pgServer.init();
    redis = createTestRedis();
    cp = await startControlPlaneProcess({
      AGENTFLEET_DATABASE_URL: await pgServer.createDatabase('agentfleet'),
      AGENTFLEET_MIGRATE_ON_START: 'true',
      AGENTFLEET_REDIS_URL: REDIS_URL,
      AGENTFLEET_REDIS_PREFIX: redis.prefix,
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '1000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '5000',
      AGENTFLEET_REAPER_INTERVAL_MS: '500',
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
      AGENTFLEET_REDIS_URL: REDIS_URL,
      AGENTFLEET_WORKER_INSTANCE_ID: 'pg-outage-worker',
      AGENTFLEET_WORKER_SLOTS: '2',
    });
  }, 120_000);

  afterAll(async () => {
    // everything this file started goes, whatever state the test left it in
    for (const p of [worker, cp]) p?.kill('SIGKILL');
    await Promise.all([worker?.exited, cp?.exited]);
    await removeJobContainers(jobIds);
    await pgServer?.destroy();
    await redis?.cleanup();
  }, 60_000);

  const diagnostics = async () =>
    [
      '--- control plane ---',
      cp?.output().slice(-5000),
      '--- worker ---',
      worker?.output().slice(-5000),
      '--- postgres ---',
      (await pgServer.log()).slice(-2000),
    ].join('\n');

  it('keeps the events in the stream while PostgreSQL is down and persists them all, once, afterwards', async () => {
    const api = cp!;
    for (let i = 0; i < JOBS; i++) {
      const res = await api.api<Job>('POST', '/api/v1/jobs', {
        image: IMAGE,
        command: ['node', '-e', progressJobScript(STEPS)],
        memory_limit_mb: 128,
        timeout_seconds: 300,
      });
      expect(res.status).toBe(201);
      jobIds.push(res.body.id);
    }
    // the worker has two slots: two jobs run when PostgreSQL goes, the other two start during the outage
    await waitFor(
      async () => {
        const res = await api.api<{ items: Job[] }>('GET', '/api/v1/jobs?status=running');
        return res.status === 200 && res.body.items.length >= 2;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'two jobs running' },
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await diagnostics()}`);
    });

    await pgServer.stop('immediate');
    const downAt = Date.now();
    // the API needs PostgreSQL: it answers 5xx now (the process itself stays up)
    expect((await api.api('GET', `/api/v1/jobs/${jobIds[0]}`)).status).toBeGreaterThanOrEqual(500);

    // meanwhile the jobs go on: their events pile up in the firehose, none acknowledged
    const r = redis.redis;
    const firehose = `${redis.prefix}events:jobs`;
    const finishedInStream = async () => {
      const entries = await r.xrange(firehose, '-', '+');
      return new Set(
        entries
          .map(
            ([, fields]) => JSON.parse(fields[fields.indexOf('e') + 1]!) as { type: string; job_id: string },
          )
          .filter((e) => e.type === 'finished')
          .map((e) => e.job_id),
      );
    };
    await waitFor(async () => (await finishedInStream()).size === JOBS, {
      timeoutMs: Math.max(0, OUTAGE_MS - (Date.now() - downAt)),
      intervalMs: 500,
      what: 'every job to end during the outage',
    }).catch(() => undefined); // on a slow machine some may end after PostgreSQL is back: fine
    await new Promise((res) => setTimeout(res, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    const endedDuringOutage = await finishedInStream();
    const groups = (await r.xinfo('GROUPS', firehose)) as unknown[][];
    const group = groups.map((g) => Object.fromEntries(chunk(g))).find((g) => g['name'] === 'control-plane');
    const unacknowledged = Number(group?.['pending'] ?? 0) + Number(group?.['lag'] ?? 0);
    // jobs ended while nothing could be written to PostgreSQL, and their events are still waiting
    expect(endedDuringOutage.size).toBeGreaterThanOrEqual(1);
    expect(unacknowledged).toBeGreaterThan(0);
    expect(cp!.output()).toMatch(/persisting \d+ job events failed .*retrying/);

    await pgServer.start();
    const ended = await waitFor(
      async () => {
        const res = await api.api<{ items: Job[] }>('GET', '/api/v1/jobs?limit=100');
        if (res.status !== 200) return undefined;
        const mine = res.body.items.filter((j) => jobIds.includes(j.id));
        return mine.length === JOBS && mine.every((j) => !['queued', 'running'].includes(j.status))
          ? mine
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'every job to end after PostgreSQL is back' },
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await diagnostics()}`);
    });
    for (const j of ended) {
      expect(j).toMatchObject({ status: 'completed', attempt: 1, progress: 1, result: { steps: STEPS } });
    }
    expect(cp!.output()).toMatch(/persisted \d+ job events after \d+ failed attempts/);
    // jobs PostgreSQL still saw as queued had their queue entries: the dispatcher sweep left them alone
    expect(cp!.output()).not.toContain('enqueued by the dispatcher sweep');

    // the persisted history: one start, every progress step in order, exactly one end per job
    const c = new Client({ connectionString: pgServer.url('agentfleet') });
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
        const steps = rows.filter((e) => e.type === 'progress').map((e) => e.data.message);
        expect(steps).toEqual(progressMessages(STEPS));
      }
    } finally {
      await c.end();
    }
    // and nothing is left unacknowledged in the stream
    await waitFor(async () => Number(((await r.xpending(firehose, 'control-plane')) as [number])[0]) === 0, {
      timeoutMs: 30_000,
      what: 'no pending firehose entries',
    });
  }, 300_000);
});

/** XINFO answers flat [name, value, name, value, …] lists. */
function chunk(flat: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}
