import { type ExecutionRunPayload } from '@agentfleet/contracts';
import { createTestRedis, TEST_REDIS_URL, type TestRedis, waitFor } from '@agentfleet/testing';
import { type Job, QueueEvents, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import {
  BullmqExecutionConsumer,
  BullmqExecutionQueue,
  StalledAttemptWatcher,
  bullConnection,
  bullJobId,
  parseBullJobId,
} from './bullmq-execution-queue.adapter';

function payload(jobId: string = randomUUID(), attempt = 1, pool = 'default'): ExecutionRunPayload {
  return {
    v: 1,
    job_id: jobId,
    organization_id: randomUUID(),
    attempt,
    pool,
    target_id: null,
    engine_id: null,
    targets: [
      {
        id: randomUUID(),
        name: 't',
        type: 'process',
        connection: {},
        breaker: {
          error_threshold_percentage: 50,
          volume_threshold: 3,
          reset_timeout_ms: 1000,
          rolling_window_ms: 10_000,
        },
      },
    ],
    spec: {
      image: 'x',
      command: ['true'],
      env: {},
      memory_limit_mb: 64,
      cpu: 1,
      pids_limit: 64,
      timeout_ms: 1000,
      network: false,
    },
  };
}

describe('BullMQ execution queue (real Redis)', () => {
  let r: TestRedis;
  let queue: BullmqExecutionQueue;
  const connection = bullConnection(TEST_REDIS_URL);
  beforeEach(() => {
    r = createTestRedis();
    queue = new BullmqExecutionQueue({ connection, prefix: `${r.prefix}bull` });
  });
  afterEach(async () => {
    await queue.close();
    await r.cleanup();
  });

  it('names BullMQ jobs by job and attempt, so the same attempt is enqueued once', async () => {
    expect(parseBullJobId(bullJobId('0b7c7f2e-5c2e-4f7a-9a3e-1d2c3b4a5f60', 3))).toEqual({
      jobId: '0b7c7f2e-5c2e-4f7a-9a3e-1d2c3b4a5f60',
      attempt: 3,
    });
    const p = payload();
    await queue.enqueue(p, { priority: 10 });
    await queue.enqueue(p, { priority: 10 });
    await queue.enqueue(payload(p.job_id, 2), { priority: 10 });
    const stats = await queue.stats('default');
    expect((stats.counts['waiting'] ?? 0) + (stats.counts['prioritized'] ?? 0)).toBe(2);
  });

  it("enqueues a batch on each attempt's own pool queue, keeping priorities and delays; an attempt already held stays once", async () => {
    const held = payload();
    await queue.enqueue(held, { priority: 5 });
    const gpu = payload(randomUUID(), 1, 'gpu');
    const later = payload();
    await queue.enqueueMany([
      { payload: held, priority: 5 },
      { payload: payload(), priority: 1 },
      { payload: gpu, priority: 7 },
      { payload: later, priority: 1, delayMs: 60_000 },
    ]);
    const def = await queue.stats('default');
    expect((def.counts['waiting'] ?? 0) + (def.counts['prioritized'] ?? 0)).toBe(2);
    expect(def.counts['delayed']).toBe(1);
    const g = await queue.stats('gpu');
    expect((g.counts['waiting'] ?? 0) + (g.counts['prioritized'] ?? 0)).toBe(1);
    const job = await queue.queue('gpu').getJob(bullJobId(gpu.job_id, 1));
    expect(job?.opts.priority).toBe(7);
    expect(job?.data).toEqual(gpu);
  });

  it('knows an attempt it holds, and not one never enqueued or removed', async () => {
    const p = payload();
    expect(await queue.has('default', p.job_id, 1)).toBe(false);
    await queue.enqueue(p, { priority: 1 });
    expect(await queue.has('default', p.job_id, 1)).toBe(true);
    expect(await queue.has('default', p.job_id, 2)).toBe(false);
    await queue.removeQueued('default', p.job_id, 1);
    expect(await queue.has('default', p.job_id, 1)).toBe(false);
  });

  it('removes a waiting attempt, and refuses to remove one a worker took', async () => {
    const waiting = payload();
    await queue.enqueue(waiting, { priority: 1 });
    expect(await queue.removeQueued('default', waiting.job_id, 1)).toBe(true);
    expect(await queue.removeQueued('default', waiting.job_id, 1)).toBe(false);

    const taken = payload();
    let release!: () => void;
    const consumer = new BullmqExecutionConsumer(
      {
        connection,
        prefix: `${r.prefix}bull`,
        pools: ['default'],
        concurrency: 1,
        lockDurationMs: 10_000,
        stalledIntervalMs: 5000,
      },
      () => new Promise<void>((res) => (release = res)),
    );
    consumer.start();
    await queue.enqueue(taken, { priority: 1 });
    await waitFor(async () => ((await queue.stats('default')).counts['active'] ?? 0) === 1, {
      what: 'taken',
    });
    expect(await queue.removeQueued('default', taken.job_id, 1)).toBe(false);
    release();
    await consumer.close();
  });

  it('refuses a payload that does not match the catalog schema (the handler never sees it)', async () => {
    const seen: unknown[] = [];
    const consumer = new BullmqExecutionConsumer(
      {
        connection,
        prefix: `${r.prefix}bull`,
        pools: ['default'],
        concurrency: 1,
        lockDurationMs: 10_000,
        stalledIntervalMs: 5000,
      },
      async (p) => void seen.push(p),
    );
    consumer.start();
    await queue.queue('default').add('execution.run', { v: 9, nonsense: true }, { jobId: 'bad-payload' });
    await waitFor(async () => ((await queue.stats('default')).counts['failed'] ?? 0) === 1, {
      what: 'the bad payload to fail',
    });
    expect(seen).toHaveLength(0);
    await consumer.close();
  });

  it('gives a deferred attempt back to its queue: the same BullMQ job runs again after the delay and completes, never reported stalled or failed', async () => {
    const stalled: unknown[] = [];
    const watcher = new StalledAttemptWatcher({ connection, prefix: `${r.prefix}bull` }, (jobId, attempt) =>
      stalled.push({ jobId, attempt }),
    );
    await watcher.watch(['default']);
    const events = new QueueEvents(RUN_QUEUE, { connection, prefix: `${r.prefix}bull` });
    const failed: string[] = [];
    events.on('failed', ({ failedReason }) => failed.push(failedReason));
    await events.waitUntilReady();
    const calls: { id: string | undefined; attempt: number; startedTimes: number; at: number }[] = [];
    const consumer = new BullmqExecutionConsumer(
      {
        connection,
        prefix: `${r.prefix}bull`,
        pools: ['default'],
        concurrency: 1,
        // short lock and stalled checks: a deferred job left active would be caught as stalled in the wait
        lockDurationMs: 1000,
        stalledIntervalMs: 300,
      },
      async (p, job: Job) => {
        calls.push({ id: job.id, attempt: p.attempt, startedTimes: job.attemptsStarted, at: Date.now() });
        return calls.length === 1 ? { deferred: { delayMs: 400 } } : { status: 'completed' };
      },
    );
    consumer.start();
    const p = payload();
    await queue.enqueue(p, { priority: 1 });
    await waitFor(async () => ((await queue.stats('default')).counts['completed'] ?? 0) === 1, {
      timeoutMs: 10_000,
      what: 'the deferred attempt to complete',
    });
    expect(calls.map((c) => [c.id, c.attempt])).toEqual([
      [bullJobId(p.job_id, 1), 1],
      [bullJobId(p.job_id, 1), 1],
    ]);
    // the consumer can tell how often the job was taken (the deferral count is one less)
    expect(calls.map((c) => c.startedTimes)).toEqual([1, 2]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(350);
    const job = await queue.queue('default').getJob(bullJobId(p.job_id, 1));
    // a deferral is no BullMQ attempt: the job's one attempt was the completed run
    expect(job?.attemptsMade).toBe(1);
    expect(job?.returnvalue).toEqual({ status: 'completed' });
    await new Promise((res) => setTimeout(res, 1000)); // a few stalled checks more
    expect(stalled).toEqual([]);
    expect(failed).toEqual([]);
    await consumer.close();
    await events.close();
    await watcher.close();
  });

  it('takes new pools and concurrency while running: an added pool is consumed, a dropped one is not, and a paused consumer stays paused', async () => {
    const handled: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const consumer = new BullmqExecutionConsumer(
      {
        connection,
        prefix: `${r.prefix}bull`,
        pools: ['a'],
        concurrency: 1,
        lockDurationMs: 5000,
        stalledIntervalMs: 5000,
      },
      async (p) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((res) => setTimeout(res, 150));
        inFlight--;
        handled.push(p.pool);
        return undefined;
      },
    );
    consumer.start();
    const done = (pool: string) => async () =>
      ((await queue.stats(pool)).counts['completed'] ?? 0) >= 2 ? true : undefined;

    consumer.reconfigure(['a', 'b'], 2);
    expect(consumer.pools().sort()).toEqual(['a', 'b']);
    await queue.enqueueMany([1, 2].map(() => ({ payload: payload(randomUUID(), 1, 'b'), priority: 1 })));
    await waitFor(done('b'), { timeoutMs: 10_000, what: 'the added pool to be consumed' });
    expect(maxInFlight).toBe(2); // the new concurrency

    consumer.reconfigure(['b'], 2);
    expect(consumer.pools()).toEqual(['b']);
    await queue.enqueue(payload(randomUUID(), 1, 'a'), { priority: 1 });
    await new Promise((res) => setTimeout(res, 500));
    expect(
      ((await queue.stats('a')).counts['prioritized'] ?? 0) +
        ((await queue.stats('a')).counts['waiting'] ?? 0),
    ).toBe(1);

    // a pool added while cordoned waits for resume()
    await consumer.pause();
    consumer.reconfigure(['b', 'c'], 2);
    await queue.enqueue(payload(randomUUID(), 1, 'c'), { priority: 1 });
    await new Promise((res) => setTimeout(res, 500));
    expect(handled.filter((x) => x === 'c')).toEqual([]);
    consumer.resume();
    await waitFor(async () => (handled.includes('c') ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the pool added while paused to be consumed after resume',
    });
    await consumer.close();
  });

  it('reports an attempt whose lock expired (its worker died) as stalled', async () => {
    const stalled: { jobId: string; attempt: number }[] = [];
    const watcher = new StalledAttemptWatcher({ connection, prefix: `${r.prefix}bull` }, (jobId, attempt) =>
      stalled.push({ jobId, attempt }),
    );
    await watcher.watch(['default']);
    // a worker takes the job and then dies without releasing it: its lock is never renewed
    const dying = new Worker(RUN_QUEUE, () => new Promise(() => undefined), {
      connection,
      prefix: `${r.prefix}bull`,
      lockDuration: 1000,
      stalledInterval: 500,
      maxStalledCount: 0,
    });
    const p = payload();
    await queue.enqueue(p, { priority: 1 });
    await waitFor(async () => ((await queue.stats('default')).counts['active'] ?? 0) === 1, {
      what: 'taken',
    });
    await dying.close(true);
    // a live consumer's stalled check finds the expired lock
    const live = new BullmqExecutionConsumer(
      {
        connection,
        prefix: `${r.prefix}bull`,
        pools: ['default'],
        concurrency: 1,
        lockDurationMs: 1000,
        stalledIntervalMs: 500,
      },
      async () => undefined,
    );
    live.start();
    await waitFor(() => stalled.length > 0, { timeoutMs: 20_000, what: 'the stalled report' });
    expect(stalled[0]).toEqual({ jobId: p.job_id, attempt: 1 });
    await live.close(true);
    await watcher.close();
  });
});

const RUN_QUEUE = 'execution-default';
