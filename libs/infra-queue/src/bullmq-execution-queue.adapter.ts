import { type ExecutionRunPayload, JOB_CATALOG, executionRunPayloadSchema } from '@agentfleet/contracts';
import type { JobQueue, QueuedAttempt } from '@agentfleet/execution';
import { type ConnectionOptions, DelayedError, type Job, Queue, QueueEvents, Worker } from 'bullmq';

const RUN = JOB_CATALOG['execution.run'];
const RUN_NAME = 'execution.run';

/** The BullMQ job of one attempt: its id names the attempt, so adding it twice is a no-op. */
function bullJob(a: QueuedAttempt) {
  return {
    data: a.payload,
    opts: {
      ...RUN.defaults,
      jobId: bullJobId(a.payload.job_id, a.payload.attempt),
      priority: a.priority,
      ...(a.delayMs ? { delay: a.delayMs } : {}),
    },
  };
}

/** BullMQ job ids may not contain ':'; one BullMQ job per attempt, so a re-enqueue of the same attempt is a no-op. */
export function bullJobId(jobId: string, attempt: number): string {
  return `${jobId}-a${attempt}`;
}

export interface QueueConnection {
  connection: ConnectionOptions;
  /** BullMQ key prefix: the installation's namespace + 'bull' (e.g. `af:bull`). */
  prefix: string;
}

/** Producer side: one BullMQ queue per pool, created on first use. */
export class BullmqExecutionQueue implements JobQueue {
  private readonly queues = new Map<string, Queue>();
  constructor(private readonly c: QueueConnection) {}

  queue(pool: string): Queue {
    let q = this.queues.get(pool);
    if (!q) {
      q = new Queue(RUN.queue(pool), { connection: this.c.connection, prefix: this.c.prefix });
      q.on('error', () => undefined); // surfaced on the calls themselves
      this.queues.set(pool, q);
    }
    return q;
  }

  async enqueue(payload: ExecutionRunPayload, opts: { priority: number; delayMs?: number }): Promise<void> {
    const { data, opts: jobOpts } = bullJob({ payload, ...opts });
    await this.queue(payload.pool).add(RUN_NAME, data, jobOpts);
  }

  async enqueueMany(attempts: readonly QueuedAttempt[]): Promise<void> {
    const byPool = new Map<string, QueuedAttempt[]>();
    for (const a of attempts) {
      const list = byPool.get(a.payload.pool);
      if (list) list.push(a);
      else byPool.set(a.payload.pool, [a]);
    }
    // addBulk: one MULTI per pool, so a batch costs one round trip instead of one per attempt
    await Promise.all(
      [...byPool].map(([pool, list]) =>
        this.queue(pool).addBulk(list.map((a) => ({ name: RUN_NAME, ...bullJob(a) }))),
      ),
    );
  }

  async removeQueued(pool: string, jobId: string, attempt: number): Promise<boolean> {
    const job = await this.queue(pool).getJob(bullJobId(jobId, attempt));
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false; // a worker locked it between the check and the removal
    }
  }

  async has(pool: string, jobId: string, attempt: number): Promise<boolean> {
    // getJob finds it in every state until removeOnComplete/removeOnFail drop it
    return (await this.queue(pool).getJob(bullJobId(jobId, attempt))) !== undefined;
  }

  /** Counts by state and the age of the oldest waiting job, per pool (admin API and metrics). */
  async stats(pool: string) {
    const q = this.queue(pool);
    const counts = await q.getJobCounts(
      'waiting',
      'prioritized',
      'delayed',
      'active',
      'completed',
      'failed',
      'paused',
    );
    const [oldest] = await q.getJobs(['waiting', 'prioritized'], 0, 0, true);
    return {
      pool,
      queue: q.name,
      counts,
      oldest_waiting_age_ms: oldest ? Date.now() - oldest.timestamp : 0,
      paused: await q.isPaused(),
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}

export interface ExecutionConsumerOptions extends QueueConnection {
  pools: readonly string[];
  concurrency: number;
  /** How long a taken job's lock lasts without renewal; renewed every half of it by BullMQ. */
  lockDurationMs: number;
  /** How often BullMQ looks for jobs whose lock expired. */
  stalledIntervalMs: number;
}

/**
 * What a handler may answer besides its result: `deferred` gives the attempt back to its queue, to be
 * taken again (by any worker) after `delayMs`, as the same BullMQ job and the same attempt. Nothing
 * about it is failed: BullMQ does not count it as an attempt (`job.attemptsStarted` does count it).
 */
export type ConsumerResult = { deferred?: { delayMs: number } | undefined } | undefined | void;

/**
 * Consumer side: one BullMQ Worker per pool. Payloads are validated against the catalog schema before
 * the handler runs. `maxStalledCount: 0`: an attempt whose lock expired is failed, not silently re-run,
 * so the control plane re-queues it as attempt + 1 (fencing). A deferred attempt leaves the active list
 * (and its lock) in the same script that delays it, so the stalled check never sees it.
 */
export class BullmqExecutionConsumer {
  /** One BullMQ Worker per pool consumed. */
  private readonly workers = new Map<string, Worker>();
  private concurrency: number;
  private paused = false;

  constructor(
    private readonly o: ExecutionConsumerOptions,
    private readonly handle: (payload: ExecutionRunPayload, job: Job) => Promise<ConsumerResult>,
  ) {
    this.concurrency = o.concurrency;
  }

  start(): void {
    for (const pool of this.o.pools) this.consume(pool);
  }

  /** The pools consumed now. */
  pools(): string[] {
    return [...this.workers.keys()];
  }

  /**
   * New settings while running (the worker's token changed): consumes exactly `pools` — a dropped
   * pool's Worker takes nothing more and closes once its running jobs have ended, in the background —
   * each at `concurrency` (BullMQ applies a new concurrency to the next jobs it takes). Says whether
   * anything changed.
   */
  reconfigure(pools: readonly string[], concurrency: number): boolean {
    const same =
      concurrency === this.concurrency &&
      pools.length === this.workers.size &&
      pools.every((p) => this.workers.has(p));
    if (same) return false;
    this.concurrency = concurrency;
    for (const [pool, w] of this.workers) {
      if (pools.includes(pool)) {
        w.concurrency = concurrency;
        continue;
      }
      this.workers.delete(pool);
      void w.close(false).catch(() => undefined);
    }
    for (const pool of pools) if (!this.workers.has(pool)) this.consume(pool);
    return true;
  }

  private consume(pool: string): void {
    const w = new Worker(
      RUN.queue(pool),
      async (job: Job, token?: string) => {
        const parsed = executionRunPayloadSchema.safeParse(job.data);
        if (!parsed.success)
          throw new Error(`payload does not match execution.run v1: ${parsed.error.message}`);
        const result = await this.handle(parsed.data, job);
        if (result?.deferred) {
          // BullMQ's way to delay a job from its processor: move it with the lock's token, then tell
          // the worker with DelayedError that it is neither completed nor failed
          await job.moveToDelayed(Date.now() + result.deferred.delayMs, token);
          throw new DelayedError();
        }
        return result;
      },
      {
        connection: this.o.connection,
        prefix: this.o.prefix,
        concurrency: this.concurrency,
        lockDuration: this.o.lockDurationMs,
        stalledInterval: this.o.stalledIntervalMs,
        maxStalledCount: 0,
        // a pool added while paused (cordoned) waits for resume()
        autorun: !this.paused,
      },
    );
    w.on('error', () => undefined);
    this.workers.set(pool, w);
  }

  /** Stop taking jobs (drain, cordon); running ones go on. */
  async pause(): Promise<void> {
    this.paused = true;
    await Promise.all([...this.workers.values()].map((w) => w.pause(true)));
  }

  resume(): void {
    this.paused = false;
    // a Worker made while paused has not run yet: resume() starts it
    for (const w of this.workers.values()) w.resume();
  }

  /** Closes the workers; with `force` false, waits for running jobs. */
  async close(force = false): Promise<void> {
    await Promise.allSettled([...this.workers.values()].map((w) => w.close(force)));
  }
}

/** Parses `<job id>-a<attempt>` back. */
export function parseBullJobId(id: string): { jobId: string; attempt: number } | undefined {
  const m = /^([0-9a-f-]{36})-a(\d+)$/.exec(id);
  return m ? { jobId: m[1]!, attempt: Number(m[2]) } : undefined;
}

/**
 * Control-plane side: tells when BullMQ gave up on an attempt because its lock expired (the worker
 * stalled or died), so the attempt can be handed back with attempt + 1.
 */
export class StalledAttemptWatcher {
  private readonly watchers = new Map<string, QueueEvents>();
  constructor(
    private readonly c: QueueConnection,
    private readonly onStalled: (jobId: string, attempt: number) => void,
  ) {}

  /** Watches exactly these pools (call again when the set changes). */
  async watch(pools: readonly string[]): Promise<void> {
    for (const pool of pools) {
      if (this.watchers.has(pool)) continue;
      const ev = new QueueEvents(RUN.queue(pool), { connection: this.c.connection, prefix: this.c.prefix });
      ev.on('error', () => undefined);
      ev.on('failed', ({ jobId, failedReason }) => {
        if (!/stalled/i.test(failedReason)) return;
        const parsed = parseBullJobId(jobId);
        if (parsed) this.onStalled(parsed.jobId, parsed.attempt);
      });
      this.watchers.set(pool, ev);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.watchers.values()].map((w) => w.close()));
  }
}

/** BullMQ wants connection options (it opens its own, blocking, connections): parsed from a redis:// URL. */
export function bullConnection(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}
