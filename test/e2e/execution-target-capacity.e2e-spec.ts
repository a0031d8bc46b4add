import { waitFor } from '@agentfleet/testing';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';
import { type RunningProcess, startExecutionWorker } from './support/processes';

interface Job {
  id: string;
  status: string;
  attempt: number;
  target_id: string | null;
  started_at: string | null;
  completed_at: string | null;
  error: string | null;
}

/** About a second of work in a plain process. */
const ONE_SECOND = ['node', '-e', 'setTimeout(() => {}, 1000)'];
const ENDED = ['completed', 'failed', 'failed_circuit_open', 'oom', 'timed_out', 'cancelled'];

/**
 * A target's `capacity.max_concurrent` holds across workers' slots: a real control plane, a real worker
 * process with more slots than the target allows, the process runtime, PostgreSQL and Redis.
 */
describe('execution target capacity (max_concurrent enforced)', () => {
  let cp: InProcessControlPlane & { url: string };
  let worker: RunningProcess;
  const targets: Record<string, { id: string }> = {};

  beforeAll(async () => {
    cp = await startInProcessControlPlane();
    const admin = cp.as(cp.adminKey);
    for (const [name, pool] of [
      ['solo', 'cap-one'],
      ['first', 'cap-spill'],
      ['second', 'cap-spill'],
    ] as const)
      targets[name] = (
        await admin
          .post('/api/v1/execution-targets', {
            name,
            type: 'process',
            worker_pool: pool,
            capacity: { max_memory_mb: 1024, max_cpu: 2, max_concurrent: 1 },
          })
          .expect(201)
      ).body as { id: string };
    const token = (
      await admin
        .post('/api/v1/worker-tokens', {
          name: 'capacity-worker',
          capabilities: ['execute'],
          pools: ['cap-one', 'cap-spill'],
          max_concurrent_tasks: 4,
        })
        .expect(201)
    ).body as { token: string };
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

  const submit = async (body: Record<string, unknown>) =>
    ((await cp.as(cp.adminKey).post('/api/v1/jobs', body).expect(201)).body as Job).id;
  const until = (id: string) =>
    waitFor(
      async () => {
        const j = (await cp.as(cp.adminKey).get(`/api/v1/jobs/${id}`).expect(200)).body as Job;
        return ENDED.includes(j.status) ? j : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 100, what: `job ${id} to end` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- worker ---\n${worker.output().slice(-4000)}`);
    });
  const interval = (j: Job) => [Date.parse(j.started_at!), Date.parse(j.completed_at!)] as const;

  /** The admin view of a target's slots (GET /api/v1/admin/breakers). */
  const slotsOf = async (targetId: string) => {
    const res = await cp.as(cp.adminKey).get('/api/v1/admin/breakers').expect(200);
    const items = res.body.items as {
      target: { id: string };
      slots: { max_concurrent: number; in_use: number };
    }[];
    return items.find((i) => i.target.id === targetId)?.slots;
  };

  it('runs the jobs of a target with max_concurrent 1 one after another on a worker with 4 slots; none fails', async () => {
    const ids = await Promise.all([1, 2, 3].map(() => submit({ command: ONE_SECOND, pool: 'cap-one' })));
    // while they run, the admin view shows the one slot taken
    await waitFor(async () => ((await slotsOf(targets['solo']!.id))?.in_use === 1 ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: 'the admin view to show the slot in use',
    });
    expect(await slotsOf(targets['solo']!.id)).toEqual({ max_concurrent: 1, in_use: 1 });
    const jobs = await Promise.all(ids.map(until));
    for (const j of jobs)
      expect(j).toMatchObject({
        status: 'completed',
        attempt: 1,
        target_id: targets['solo']!.id,
        error: null,
      });
    const runs = jobs.map(interval).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < runs.length; i++) expect(runs[i]![0]).toBeGreaterThanOrEqual(runs[i - 1]![1]);
    // the ones that found the target full waited in the queue as the same attempt
    expect(worker.output()).toContain('job deferred: no target has a free slot');
    expect(worker.output()).toContain('solo: full (max_concurrent 1; ');
    // every lease was given back: the target's slot set is gone
    expect(await cp.redis.redis.exists(`${cp.redis.prefix}target:${targets['solo']!.id}:slots`)).toBe(0);
    expect(await slotsOf(targets['solo']!.id)).toEqual({ max_concurrent: 1, in_use: 0 });
  });

  it('sends a job whose target is full to another target of its pool that has a free slot', async () => {
    const ids = await Promise.all(
      [1, 2].map(() => submit({ command: ONE_SECOND, target_id: targets['first']!.id })),
    );
    const jobs = await Promise.all(ids.map(until));
    expect(jobs.map((j) => j.status)).toEqual(['completed', 'completed']);
    expect(new Set(jobs.map((j) => j.target_id))).toEqual(
      new Set([targets['first']!.id, targets['second']!.id]),
    );
    // on two targets they ran side by side, not one after the other
    const [a, b] = jobs.map(interval) as [readonly [number, number], readonly [number, number]];
    expect(Math.max(a[0], b[0])).toBeLessThan(Math.min(a[1], b[1]));
  });

  it('starts the jobs waiting for a full target in turn: a higher priority first, then in the order they were queued', async () => {
    const ONE_AND_A_HALF = ['node', '-e', 'setTimeout(() => {}, 1500)'];
    const SHORT = ['node', '-e', 'setTimeout(() => {}, 300)'];
    const first = await submit({ command: ONE_AND_A_HALF, pool: 'cap-one' });
    await waitFor(async () => ((await slotsOf(targets['solo']!.id))?.in_use === 1 ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: 'the first job to take the slot',
    });
    // queued while the slot is taken: all are taken by the worker (4 slots) and wait for the target
    const low1 = await submit({ command: SHORT, pool: 'cap-one', priority: 200 });
    const low2 = await submit({ command: SHORT, pool: 'cap-one', priority: 200 });
    const low3 = await submit({ command: SHORT, pool: 'cap-one', priority: 200 });
    const urgent = await submit({ command: SHORT, pool: 'cap-one', priority: 1 });
    const jobs = await Promise.all([first, low1, low2, low3, urgent].map(until));
    expect(jobs.map((j) => j.status)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
      'completed',
    ]);
    const byStart = [...jobs].sort((a, b) => Date.parse(a.started_at!) - Date.parse(b.started_at!));
    expect(byStart.map((j) => j.id)).toEqual([first, urgent, low1, low2, low3]);
  });

  it('a job cancelled while it waits for a full target leaves the line at once, not when its place lapses', async () => {
    const blocker = await submit({ command: ['node', '-e', 'setTimeout(() => {}, 3000)'], pool: 'cap-one' });
    await waitFor(async () => ((await slotsOf(targets['solo']!.id))?.in_use === 1 ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: 'the blocker to take the slot',
    });
    const waiting = await submit({ command: ONE_SECOND, pool: 'cap-one' });
    const line = `${cp.redis.prefix}target:${targets['solo']!.id}:waiting`;
    await waitFor(async () => ((await cp.redis.redis.zcard(line)) === 1 ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the job to take its place in line',
    });
    await cp.as(cp.adminKey).post(`/api/v1/jobs/${waiting}/cancel`).expect(200);
    // well before a place lapses (4 s): at once, or — if a worker held the entry at that moment — when
    // that worker next takes it and ends it as cancelled
    await waitFor(async () => ((await cp.redis.redis.zcard(line)) === 0 ? true : undefined), {
      timeoutMs: 1500,
      intervalMs: 20,
      what: 'the cancelled job to leave the line',
    });
    expect((await until(waiting)).status).toBe('cancelled');
    expect((await until(blocker)).status).toBe('completed');
  });
});
