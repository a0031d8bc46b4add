import { waitFor } from '@agentfleet/testing';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';
import { type RunningProcess, startExecutionWorker } from './support/processes';

interface Job {
  id: string;
  status: string;
  started_at: string | null;
  completed_at: string | null;
}
interface Worker {
  id: string;
  pools: string[];
  capabilities: string[];
  concurrency: number;
  status: string;
}

/** About a second of work in a plain process. */
const ONE_SECOND = ['node', '-e', 'setTimeout(() => {}, 1000)'];

/**
 * A change of a worker token reaches its running worker without a restart: the control plane sends
 * `reload`, the worker registers again with its next heartbeat and consumes the token's new pools at its
 * new concurrency. A real control plane, a real worker process, the process runtime, PostgreSQL and Redis.
 */
describe('a worker takes its token’s new pools and concurrency while running (reload)', () => {
  let cp: InProcessControlPlane & { url: string };
  let worker: RunningProcess;
  let token: { id: string; token: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane({ AGENTFLEET_HEARTBEAT_INTERVAL_MS: '500' });
    const admin = cp.as(cp.adminKey);
    for (const pool of ['reload-a', 'reload-b'])
      await admin
        .post('/api/v1/execution-targets', { name: pool, type: 'process', worker_pool: pool })
        .expect(201);
    token = (
      await admin
        .post('/api/v1/worker-tokens', {
          name: 'reloading-worker',
          capabilities: ['execute'],
          pools: ['reload-a'],
          max_concurrent_tasks: 1,
        })
        .expect(201)
    ).body as { id: string; token: string };
    worker = await startExecutionWorker(token.token, cp.url, {
      AGENTFLEET_WORKER_RUNTIMES: 'process',
      AGENTFLEET_WORKER_SLOTS: '4',
    });
  }, 120_000);

  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker?.exited;
    await cp?.close();
  });

  const admin = () => cp.as(cp.adminKey);
  const submit = async (pool: string) =>
    ((await admin().post('/api/v1/jobs', { command: ONE_SECOND, pool }).expect(201)).body as Job).id;
  const job = async (id: string) => (await admin().get(`/api/v1/jobs/${id}`).expect(200)).body as Job;
  const completed = (id: string) =>
    waitFor(
      async () => {
        const j = await job(id);
        return j.status === 'completed' ? j : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `job ${id} to complete` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- worker ---\n${worker.output().slice(-4000)}`);
    });
  const theWorker = async () => {
    const res = await admin().get('/api/v1/admin/workers?limit=200').expect(200);
    return (res.body.items as Worker[]).find((w) => w.status === 'online')!;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('consumes a pool added to the token, at the new concurrency, keeping its id and process', async () => {
    const before = await theWorker();
    expect(before).toMatchObject({ pools: ['reload-a'], concurrency: 1 });
    const waiting = await submit('reload-b');
    await sleep(2000); // four heartbeats: not the worker's pool, so it stays queued
    expect((await job(waiting)).status).toBe('queued');

    await admin()
      .patch(`/api/v1/worker-tokens/${token.id}`, {
        pools: ['reload-a', 'reload-b'],
        max_concurrent_tasks: 2,
      })
      .expect(200);
    await completed(waiting);
    await waitFor(async () => ((await theWorker()).concurrency === 2 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the worker row to show the new settings',
    });
    const after = await theWorker();
    expect(after).toMatchObject({ id: before.id, concurrency: 2 });
    expect([...after.pools].sort()).toEqual(['reload-a', 'reload-b']);
    expect(worker.child.exitCode).toBeNull();
    expect(worker.output()).toContain(
      'token settings changed: consuming execution queues with the new settings',
    );

    // concurrency 2: two one-second jobs of one pool run side by side
    const [a, b] = await Promise.all([submit('reload-b'), submit('reload-b')]);
    const [ja, jb] = await Promise.all([completed(a), completed(b)]);
    const start = Math.max(Date.parse(ja.started_at!), Date.parse(jb.started_at!));
    const end = Math.min(Date.parse(ja.completed_at!), Date.parse(jb.completed_at!));
    expect(start).toBeLessThan(end);
  });

  it('stops taking jobs of a pool removed from the token; the remaining pool goes on', async () => {
    await admin()
      .patch(`/api/v1/worker-tokens/${token.id}`, { pools: ['reload-b'] })
      .expect(200);
    await waitFor(async () => ((await theWorker()).pools.join() === 'reload-b' ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the worker to register with pool reload-b only',
    });
    const dropped = await submit('reload-a');
    const kept = await submit('reload-b');
    await completed(kept);
    await sleep(1500);
    expect((await job(dropped)).status).toBe('queued');
  });

  it('takes no execution job once the token loses the execute capability; a job already running ends', async () => {
    const running = await submit('reload-b');
    await waitFor(async () => ((await job(running)).status === 'running' ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'the job to start',
    });
    await admin()
      .patch(`/api/v1/worker-tokens/${token.id}`, { capabilities: ['ingest'] })
      .expect(200);
    await completed(running);
    await waitFor(async () => ((await theWorker()).capabilities.join() === 'ingest' ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the worker to register with the ingest capability only',
    });
    expect(worker.output()).toContain('execute capability removed from the token');
    const after = await submit('reload-b');
    await sleep(1500);
    expect((await job(after)).status).toBe('queued');
  });
});
