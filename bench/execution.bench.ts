/**
 * Execution benchmark (`npm run bench -- execution`).
 *
 * a) Throughput: no-op jobs through the whole path — HTTP POST /api/v1/jobs to the real control plane
 *    (a child process on a fresh migrated database) → PostgreSQL → BullMQ → the real worker process
 *    (process runtime, no-op command `["agentfleet:noop"]`) → its Redis event stream → the control
 *    plane's event consumer → PostgreSQL — done when the rows say `completed` (a COUNT query).
 *    Baseline: plain BullMQ Queue.add + a Worker with an empty processor (a process of its own) on the
 *    same Redis, same job count, same number of concurrent submitters, same concurrency.
 * b) Enqueue→start latency at a paced 100 jobs/s: ours from the POST returning (the job is committed
 *    and enqueued) to its `started_at` (stamped by the worker when the runtime started it); raw from
 *    add() returning (the job is in Redis) to the processor being called. Both on Date.now().
 * c) One Docker job (`node -e 0` in agentfleet/agent-runtime:dev) through DockerRuntime.run() vs raw
 *    dockerode create/start/wait/remove of the same image and command, interleaved; median wall time.
 *    The job asks for as many CPUs as the machine has: a CFS quota below what `node -e 0` uses
 *    (the default 0.5) stretches the container's own run, which is the job's request, not our path's
 *    overhead. That case is measured too, interleaved with the others, and printed for information.
 *
 * Also: CPU per process and per job, PostgreSQL rows written and transactions per job, the event
 * consumer's batch sizes (events per persist transaction) and lag. A measurement, not a test: goals
 * are printed MET or MISSED and written with every figure to bench/results/execution.json.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { JOB_CATALOG, createJobSchema } from '@agentfleet/contracts';
import type { RunSpec } from '@agentfleet/execution';
import { bullConnection, bullJobId } from '@agentfleet/infra-queue';
import { RedisKeys } from '@agentfleet/infra-redis';
import { DockerRuntime, NOOP_COMMAND } from '@agentfleet/infra-runtime';
import { TEST_REDIS_URL } from '@agentfleet/testing';
import {
  BENCH_APPLICATION_NAME,
  type Stack,
  killOnExit,
  machineCpuMs,
  processCpuMs,
  processSyscalls,
  startStack,
} from './execution-stack';
import type { RawWorkerInit, RawWorkerMessage, RawWorkerRequest } from './execution-raw.worker';
import {
  type GoalResult,
  fmt,
  machine,
  percentile,
  printGoal,
  roundDeep,
  sleep,
  summarize,
  writeResult,
} from './support';

const CONFIG = {
  /** Jobs run first on each side and not measured (JIT, pools, connections). */
  warmupJobs: 500,
  throughputJobs: 10_000,
  /** Concurrent submitters (HTTP requests in flight / add() calls in flight), one keep-alive socket each. */
  submitters: 32,
  /** a, batched: jobs per POST /api/v1/jobs/batch (and per raw Queue.addBulk), and requests in flight. */
  batchSize: 50,
  batchSubmitters: 4,
  /** AGENTFLEET_WORKER_SLOTS of our worker (and its token's max_concurrent_tasks); the raw Worker's concurrency. */
  workerSlots: 256,
  latencyRatePerS: 100,
  latencySeconds: 20,
  /** b) context: Redis PINGs back to back, then as many paced at latencyRatePerS (one hop's cost here). */
  hopRoundTrips: 500,
  dockerRuns: 16,
  dockerImage: 'agentfleet/agent-runtime:dev',
  /** Both processes at warn: at info the worker logs two lines per job and the control plane one per request. */
  logLevel: 'warn',
  /** How often completion is polled (a COUNT over execution_jobs; its cost is reported on its own). */
  pollMs: 100,
  sampleMs: 200,
  phaseTimeoutMs: 120_000,
} as const;

const GOAL_JOBS_PER_S = 1_000;
const GOAL_RATIO_STRETCH = 0.3;
const GOAL_LATENCY_P99_RATIO = 2;
const GOAL_DOCKER_RATIO = 1.15;

const RUN = JOB_CATALOG['execution.run'];
const FAILED_STATUSES = ['failed', 'oom', 'failed_circuit_open', 'timed_out', 'cancelled'];

// --- CPU accounting ----------------------------------------------------------------------------------

interface CpuMark {
  at: number;
  machine: { busy: number; total: number };
  redisMs: number;
  /** INFO commandstats: calls and µs per command (server-wide; commands run inside Lua count too). */
  redisCommands: Map<string, { calls: number; usec: number }>;
  self: number;
  procs: Record<string, number | undefined>;
  /** Read/write system calls so far of each process of `procs`, and of the Redis server. */
  syscalls: Record<string, { reads: number; writes: number } | undefined>;
  /** PostgreSQL backends of the stack's database: the stack's own, and the bench's (its polling). */
  pg: { stack: Map<number, number>; bench: Map<number, number> };
}

async function redisCpuMs(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const v = (name: string) => Number(new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (v('used_cpu_sys') + v('used_cpu_user')) * 1000;
}

async function cpuMark(
  redis: Redis,
  procs: Record<string, number | undefined>,
  stack?: Stack,
): Promise<CpuMark> {
  const pg = { stack: new Map<number, number>(), bench: new Map<number, number>() };
  if (stack) {
    const rows = await stack.query<{ pid: number; application_name: string }>(
      'SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database()',
    );
    for (const { pid, application_name } of rows) {
      const ms = processCpuMs(pid);
      if (ms !== undefined) (application_name === BENCH_APPLICATION_NAME ? pg.bench : pg.stack).set(pid, ms);
    }
  }
  const u = process.cpuUsage();
  return {
    at: performance.now(),
    machine: machineCpuMs(),
    redisMs: await redisCpuMs(redis),
    redisCommands: await redisCommandStats(redis),
    self: (u.user + u.system) / 1000,
    procs: Object.fromEntries(
      Object.entries(procs).map(([k, pid]) => [k, pid ? processCpuMs(pid) : undefined]),
    ),
    syscalls: Object.fromEntries(
      Object.entries({ ...procs, Redis: await redisPid(redis) }).map(([k, pid]) => [
        k,
        pid ? processSyscalls(pid) : undefined,
      ]),
    ),
    pg,
  };
}

interface CpuFigures {
  window_s: number;
  /** CPU ms per job, per process (or group of processes). */
  ms_per_job: Record<string, number>;
  /** % of one core, per process. */
  percent_of_core: Record<string, number>;
  machine_busy_percent_of_all_cores: number;
  redis_commands: ReturnType<typeof commandFigures>;
  /** Read and write system calls per job of each process (sockets included: each is a wake-up). */
  syscalls_per_job: Record<string, { reads: number; writes: number }>;
}

/** The Redis server's pid when it runs on this machine (its syscalls are read from /proc), else undefined. */
async function redisPid(r: Redis): Promise<number | undefined> {
  const pid = Number(/^process_id:(\d+)/m.exec(await r.info('server'))?.[1]);
  return Number.isFinite(pid) && processSyscalls(pid) ? pid : undefined;
}

async function redisCommandStats(r: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of (await r.info('commandstats')).matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm))
    stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return stats;
}

/** Redis commands per job by command (most first), and the µs Redis spent in them per job. */
function commandFigures(a: CpuMark, b: CpuMark, jobs: number) {
  const rows = [...b.redisCommands].map(([cmd, v]) => {
    const before = a.redisCommands.get(cmd) ?? { calls: 0, usec: 0 };
    return { cmd, calls: (v.calls - before.calls) / jobs, usec: (v.usec - before.usec) / jobs };
  });
  const per_job = Object.fromEntries(
    rows
      .filter((r) => r.calls > 0)
      .sort((x, y) => y.calls - x.calls)
      .map((r) => [r.cmd, { calls: Number(r.calls.toFixed(3)), usec: Number(r.usec.toFixed(2)) }]),
  );
  return { total_calls: rows.reduce((n, r) => n + r.calls, 0), per_job };
}

function cpuFigures(a: CpuMark, b: CpuMark, jobs: number, selfLabel: string): CpuFigures {
  const windowMs = b.at - a.at;
  const used: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.procs)) {
    const before = a.procs[k];
    if (v !== undefined && before !== undefined) used[k] = v - before;
  }
  const delta = (x: Map<number, number>, y: Map<number, number>) => {
    let ms = 0;
    for (const [pid, v] of y) ms += v - (x.get(pid) ?? 0);
    return ms;
  };
  if (b.pg.stack.size) used['PostgreSQL (stack backends)'] = delta(a.pg.stack, b.pg.stack);
  used['Redis (server-wide)'] = b.redisMs - a.redisMs;
  used[selfLabel] = b.self - a.self;
  if (b.pg.bench.size) used['PostgreSQL (bench polling)'] = delta(a.pg.bench, b.pg.bench);
  const pct: Record<string, number> = {};
  const perJob: Record<string, number> = {};
  for (const [k, v] of Object.entries(used)) {
    pct[k] = (v / windowMs) * 100;
    perJob[k] = v / jobs;
  }
  return {
    window_s: windowMs / 1000,
    ms_per_job: perJob,
    percent_of_core: pct,
    machine_busy_percent_of_all_cores:
      ((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * 100,
    redis_commands: commandFigures(a, b, jobs),
    syscalls_per_job: Object.fromEntries(
      Object.entries(b.syscalls).flatMap(([k, v]) => {
        const before = a.syscalls[k];
        if (!v || !before) return [];
        return [[k, { reads: (v.reads - before.reads) / jobs, writes: (v.writes - before.writes) / jobs }]];
      }),
    ),
  };
}

// --- driving ------------------------------------------------------------------------------------------

/** Runs `n` tasks with `concurrency` loops; resolves when all are done, rejects after that with the first failure. */
async function inParallel(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await task(next++).catch((e: unknown) => failures.push(e));
    }),
  );
  if (failures.length) throw failures[0];
}

/**
 * Calls `task(i)` at t0 + i/rate (open loop: a slow call does not delay the next); resolves when all
 * are done, rejects after that with the first failure (none is left unhandled while others still run).
 */
async function paced(n: number, ratePerS: number, task: (i: number) => Promise<void>): Promise<void> {
  const t0 = performance.now();
  const running: Promise<unknown>[] = [];
  const failures: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / ratePerS - performance.now();
    if (wait > 0) await sleep(wait);
    running.push(task(i).catch((e: unknown) => failures.push(e)));
  }
  await Promise.all(running);
  if (failures.length) throw failures[0];
}

async function pollUntil(what: string, check: () => Promise<boolean>): Promise<number> {
  const deadline = performance.now() + CONFIG.phaseTimeoutMs;
  for (;;) {
    if (await check()) return performance.now();
    if (performance.now() > deadline)
      throw new Error(`timed out after ${CONFIG.phaseTimeoutMs} ms waiting for ${what}`);
    await sleep(CONFIG.pollMs);
  }
}

/** Samples a figure every `everyMs` until stopped; returns the samples. */
function sampler<T>(everyMs: number, sample: () => Promise<T>) {
  const samples: T[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        samples.push(await sample());
      } catch {
        // a missed sample
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop(): Promise<T[]> {
      running = false;
      await loop;
      return samples;
    },
  };
}

// --- our path --------------------------------------------------------------------------------------------

async function completedCount(stack: Stack): Promise<number> {
  return (
    await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM execution_jobs WHERE status = 'completed'`,
    )
  )[0]!.n;
}

/** Jobs that ended otherwise: a failure would keep the completed count from ever reaching its target. */
async function failedCount(stack: Stack): Promise<number> {
  return (
    await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM execution_jobs WHERE status = ANY($1::text[])`,
      [FAILED_STATUSES],
    )
  )[0]!.n;
}

/** Polls until `target` more jobs than `before` are completed; checks for failed ones every second. */
async function untilCompleted(stack: Stack, before: number, target: () => number, ready: () => boolean) {
  let polls = 0;
  return pollUntil('the jobs to complete', async () => {
    if (++polls % 10 === 0 && (await failedCount(stack)) > 0)
      throw new Error(`jobs ended other than completed:\n${stack.worker.output().slice(-2000)}`);
    return ready() && (await completedCount(stack)) - before >= target();
  });
}

class Submitter {
  refused = 0;
  firstRefusal: string | undefined;
  constructor(private readonly stack: Stack) {}

  /** POSTs one no-op job; its id, or undefined when refused or failed (counted, never thrown). */
  async submit(tag: string): Promise<string | undefined> {
    try {
      const r = await this.stack.http.send('POST', '/api/v1/jobs', this.stack.adminKey, {
        command: [NOOP_COMMAND],
        memory_limit_mb: 64,
        metadata: { bench: tag },
      });
      if (r.status === 201) return (r.body as { id: string }).id;
      this.refuse(`${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    } catch (e) {
      this.refuse(e instanceof Error ? e.message : String(e));
    }
    return undefined;
  }

  /** POSTs `size` no-op jobs in one batch; how many were created (a refused batch counts all as refused). */
  async submitBatch(tag: string, size: number): Promise<number> {
    const job = { command: [NOOP_COMMAND], memory_limit_mb: 64, metadata: { bench: tag } };
    try {
      const r = await this.stack.http.send('POST', '/api/v1/jobs/batch', this.stack.adminKey, {
        jobs: Array.from({ length: size }, () => job),
      });
      if (r.status === 201) return (r.body as { items: unknown[] }).items.length;
      this.refuse(`${r.status} ${JSON.stringify(r.body).slice(0, 300)}`, size);
    } catch (e) {
      this.refuse(e instanceof Error ? e.message : String(e), size);
    }
    return 0;
  }

  private refuse(why: string, jobs = 1) {
    this.refused += jobs;
    this.firstRefusal ??= why;
  }
}

interface Sample {
  lag: number;
  pending: number;
  queued: number;
}

/** How a phase submits: one job per request, or batches of `batch` jobs per request (`inFlight` at a time). */
type SubmitMode = { batch?: undefined } | { batch: number; inFlight: number };

async function oursThroughput(stack: Stack, redis: Redis, n: number, tag: string, mode: SubmitMode = {}) {
  const sub = new Submitter(stack);
  const before = await completedCount(stack);
  const keys = new RedisKeys(stack.redis.prefix);
  const q = new Queue(RUN.queue('default'), {
    connection: bullConnection(TEST_REDIS_URL),
    prefix: `${stack.redis.prefix}bull`,
  });
  q.on('error', () => undefined);
  const samples = sampler<Sample>(CONFIG.sampleMs, async () => {
    const g = ((await redis.xinfo('GROUPS', keys.jobEventsFirehose())) as unknown[][])[0] ?? [];
    const field = (name: string) => Number(g[g.indexOf(name) + 1] ?? 0);
    const c = await q.getJobCounts('waiting', 'prioritized');
    return {
      lag: field('lag'),
      pending: field('pending'),
      queued: (c['waiting'] ?? 0) + (c['prioritized'] ?? 0),
    };
  });
  const procs = { 'control plane': stack.controlPlane.proc.pid, worker: stack.worker.proc.pid };
  const c0 = await cpuMark(redis, procs, stack);
  const from = new Date();
  const t0 = performance.now();
  let submittedAt: number | undefined;
  let to = from;
  const submitting = (
    mode.batch
      ? inParallel(Math.ceil(n / mode.batch), mode.inFlight, async (i) => {
          await sub.submitBatch(tag, Math.min(mode.batch, n - i * mode.batch));
        })
      : inParallel(n, CONFIG.submitters, async () => {
          await sub.submit(tag);
        })
  ).then(() => {
    submittedAt = performance.now();
    to = new Date();
  });
  const doneAt = await untilCompleted(
    stack,
    before,
    () => n - sub.refused,
    () => submittedAt !== undefined,
  );
  await submitting;
  const c1 = await cpuMark(redis, procs, stack);
  const s = await samples.stop();
  await q.close();
  const completed = (await completedCount(stack)) - before;
  return {
    jobs: n,
    completed,
    refused: sub.refused,
    first_refusal: sub.firstRefusal ?? null,
    seconds: (doneAt - t0) / 1000,
    jobs_per_s: completed / ((doneAt - t0) / 1000),
    submits_per_s: n / ((submittedAt! - t0) / 1000),
    /** When the submissions were made (wall clock): where their transactions are found. */
    submitWindow: { from, to },
    max_queue_depth: Math.max(0, ...s.map((x) => x.queued)),
    max_consumer_lag_entries: Math.max(0, ...s.map((x) => x.lag)),
    max_consumer_pending_entries: Math.max(0, ...s.map((x) => x.pending)),
    cpu: cpuFigures(c0, c1, completed, 'bench process (submitters)'),
  };
}

async function oursLatency(stack: Stack, n: number, ratePerS: number) {
  const sub = new Submitter(stack);
  const sent = new Map<string, { sentAt: number; returnedAt: number }>();
  const before = await completedCount(stack);
  await paced(n, ratePerS, async () => {
    const sentAt = Date.now();
    const id = await sub.submit('latency');
    if (id) sent.set(id, { sentAt, returnedAt: Date.now() });
  });
  await untilCompleted(
    stack,
    before,
    () => sent.size,
    () => true,
  );
  const rows = await stack.query<{ id: string; started_at: Date }>(
    'SELECT id, started_at FROM execution_jobs WHERE id = ANY($1::uuid[])',
    [[...sent.keys()]],
  );
  // where the time goes: BullMQ stamps processedOn when the worker takes the entry (worker clock, ms)
  const q = new Queue(RUN.queue('default'), {
    connection: bullConnection(TEST_REDIS_URL),
    prefix: `${stack.redis.prefix}bull`,
  });
  q.on('error', () => undefined);
  const taken = new Map<string, number>();
  for (const r of rows) {
    const job = await q.getJob(bullJobId(r.id, 1));
    if (job?.processedOn) taken.set(r.id, job.processedOn);
  }
  await q.close();
  const fromReturn: number[] = [];
  const fromSend: number[] = [];
  const submit: number[] = [];
  const toTaken: number[] = [];
  const takenToStart: number[] = [];
  for (const r of rows) {
    const s = sent.get(r.id)!;
    fromReturn.push(r.started_at.getTime() - s.returnedAt);
    fromSend.push(r.started_at.getTime() - s.sentAt);
    submit.push(s.returnedAt - s.sentAt);
    const t = taken.get(r.id);
    if (t === undefined) continue;
    toTaken.push(t - s.returnedAt);
    takenToStart.push(r.started_at.getTime() - t);
  }
  return {
    jobs: n,
    refused: sub.refused,
    enqueue_to_start_ms: summarize(fromReturn),
    request_to_start_ms: summarize(fromSend),
    submit_round_trip_ms: summarize(submit),
    enqueue_to_taken_ms: summarize(toTaken),
    taken_to_start_ms: summarize(takenToStart),
  };
}

// --- raw BullMQ ------------------------------------------------------------------------------------------

class RawWorker {
  private readonly child: ChildProcess;
  private stderr = '';
  private readonly waiters: ((m: RawWorkerMessage) => void)[] = [];
  private readonly exited: Promise<void>;

  constructor(init: RawWorkerInit) {
    // not the bench's own stdout: a child left behind would hold a pipe reading it open
    this.child = fork(join(__dirname, 'execution-raw.worker.js'), [], {
      env: { PATH: process.env['PATH'] ?? '', AF_BENCH_RAW: JSON.stringify(init) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    killOnExit(this.child);
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.child.on('message', (m: RawWorkerMessage) => this.waiters.shift()?.(m));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get pid() {
    return this.child.pid;
  }

  private next(): Promise<RawWorkerMessage | undefined> {
    return Promise.race([
      new Promise<RawWorkerMessage>((resolve) => this.waiters.push(resolve)),
      this.exited.then(() => undefined),
    ]);
  }

  async ready(): Promise<void> {
    if ((await this.next())?.kind !== 'ready')
      throw new Error(`the raw BullMQ worker did not start: ${this.stderr}`);
  }

  async starts(): Promise<Map<string, number>> {
    const reply = this.next();
    this.child.send({ cmd: 'starts' } satisfies RawWorkerRequest);
    const m = await reply;
    return new Map(m?.kind === 'starts' ? m.starts : []);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    if (this.child.connected) this.child.send({ cmd: 'close' } satisfies RawWorkerRequest);
    else this.child.kill('SIGTERM');
    await this.exited;
    clearTimeout(timer);
  }
}

async function rawThroughput(q: Queue, worker: RawWorker, redis: Redis, n: number, mode: SubmitMode = {}) {
  const before = await q.getCompletedCount();
  const procs = { 'raw BullMQ worker': worker.pid };
  const c0 = await cpuMark(redis, procs);
  const t0 = performance.now();
  let addedAt: number | undefined;
  const adding = (
    mode.batch
      ? inParallel(Math.ceil(n / mode.batch), mode.inFlight, async (b) => {
          const size = Math.min(mode.batch, n - b * mode.batch);
          await q.addBulk(
            Array.from({ length: size }, (_, j) => ({ name: 'noop', data: { i: b * mode.batch + j } })),
          );
        })
      : inParallel(n, CONFIG.submitters, async (i) => {
          await q.add('noop', { i });
        })
  ).then(() => (addedAt = performance.now()));
  const doneAt = await pollUntil(
    'the raw jobs to complete',
    async () => addedAt !== undefined && (await q.getCompletedCount()) - before >= n,
  );
  await adding;
  const c1 = await cpuMark(redis, procs);
  return {
    jobs: n,
    seconds: (doneAt - t0) / 1000,
    jobs_per_s: n / ((doneAt - t0) / 1000),
    adds_per_s: n / ((addedAt! - t0) / 1000),
    cpu: cpuFigures(c0, c1, n, 'bench process (adders)'),
  };
}

async function rawLatency(q: Queue, worker: RawWorker, n: number, ratePerS: number) {
  const sent = new Map<string, { sentAt: number; returnedAt: number }>();
  const before = await q.getCompletedCount();
  await paced(n, ratePerS, async (i) => {
    const sentAt = Date.now();
    const job = await q.add('noop', { i, timed: true });
    sent.set(job.id ?? '', { sentAt, returnedAt: Date.now() });
  });
  await pollUntil('the paced raw jobs to complete', async () => (await q.getCompletedCount()) - before >= n);
  const starts = await worker.starts();
  const fromReturn: number[] = [];
  const fromSend: number[] = [];
  const add: number[] = [];
  for (const [id, s] of sent) {
    const startedAt = starts.get(id);
    if (startedAt === undefined) continue;
    fromReturn.push(startedAt - s.returnedAt);
    fromSend.push(startedAt - s.sentAt);
    add.push(s.returnedAt - s.sentAt);
  }
  return {
    jobs: n,
    enqueue_to_start_ms: summarize(fromReturn),
    request_to_start_ms: summarize(fromSend),
    add_round_trip_ms: summarize(add),
  };
}

/**
 * What one round trip to Redis costs on this machine, the hop our worker makes between taking a job and
 * starting it (slot and cancel check) and raw's processor does not: PINGs back to back, then PINGs paced
 * like b) (idle between them). Wall time per round trip (performance.now(), µs resolution) and the
 * bench process's CPU per round trip (process.cpuUsage).
 */
async function redisHop(redis: Redis, n: number, ratePerS: number) {
  const measure = async (send: (ping: () => Promise<void>) => Promise<void>) => {
    const ms: number[] = [];
    const cpu0 = process.cpuUsage();
    await send(async () => {
      const t = performance.now();
      await redis.ping();
      ms.push(performance.now() - t);
    });
    const cpu = process.cpuUsage(cpu0);
    return { round_trip_ms: summarize(ms), bench_cpu_us_per_round_trip: (cpu.user + cpu.system) / n };
  };
  const backToBack = await measure(async (ping) => {
    for (let i = 0; i < n; i++) await ping();
  });
  const atRate = await measure((ping) => paced(n, ratePerS, ping));
  return { back_to_back: backToBack, paced: { rate_per_s: ratePerS, ...atRate } };
}

// --- Docker ----------------------------------------------------------------------------------------------

interface RunStats {
  median: number;
  min: number;
  max: number;
  runs: number[];
}
/** What a job asks for when it names no cpu (the API's default). */
const DEFAULT_JOB_CPU = createJobSchema.shape.cpu.parse(undefined);

type DockerFigures =
  | { skipped: string }
  | {
      ours_ms: RunStats;
      raw_ms: RunStats;
      ratio_of_medians: number;
      /** The job's CPU request in the compared runs (the machine's cores: no quota throttling). */
      cpu: number;
      /** The same job at the default request of 0.5 CPU: the quota's own cost, for information. */
      default_cpu: { cpu: number; ours_ms: RunStats; ratio_of_medians: number };
    };

async function dockerPhase(runs: number): Promise<DockerFigures> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  try {
    await docker.getImage(CONFIG.dockerImage).inspect();
  } catch {
    return { skipped: `image ${CONFIG.dockerImage} not found: build it with npm run build:runtime-image` };
  }
  const runtime = new DockerRuntime(docker);
  const command = ['node', '-e', '0'];
  const organizationId = randomUUID();
  const cores = availableParallelism();
  const ours = async (cpu: number): Promise<number> => {
    const spec: RunSpec = {
      jobId: randomUUID(),
      attempt: 1,
      organizationId,
      image: CONFIG.dockerImage,
      command,
      env: {},
      secretEnv: {},
      memoryLimitMb: 256,
      cpu,
      pidsLimit: 256,
      timeoutMs: 60_000,
      network: false,
    };
    const t0 = performance.now();
    const out = await runtime.run(spec, {
      onStdout: () => undefined,
      onStderr: () => undefined,
      signal: new AbortController().signal,
    });
    const ms = performance.now() - t0;
    if (out.exitCode !== 0) throw new Error(`DockerRuntime run exited ${out.exitCode}`);
    return ms;
  };
  const raw = async (): Promise<number> => {
    const t0 = performance.now();
    const [entrypoint, ...args] = command;
    const c = await docker.createContainer({
      Image: CONFIG.dockerImage,
      Entrypoint: [entrypoint!],
      Cmd: args,
    });
    try {
      await c.start();
      const exit = (await c.wait()) as { StatusCode?: number };
      if (exit.StatusCode !== 0) throw new Error(`raw container exited ${exit.StatusCode}`);
    } finally {
      await c.remove({ force: true });
    }
    return performance.now() - t0;
  };
  // one of each first, unmeasured (image layers in the page cache, dockerode's agent warm)
  await ours(cores);
  await raw();
  const oursMs: number[] = [];
  const rawMs: number[] = [];
  const defaultMs: number[] = [];
  const kinds = [
    async () => oursMs.push(await ours(cores)),
    async () => rawMs.push(await raw()),
    async () => defaultMs.push(await ours(DEFAULT_JOB_CPU)),
  ];
  for (let i = 0; i < runs; i++) {
    // rotating which goes first, so that none always runs right after another's teardown
    for (let k = 0; k < kinds.length; k++) await kinds[(i + k) % kinds.length]!();
  }
  const stats = (v: number[]): RunStats => ({
    median: percentile(v, 50),
    min: Math.min(...v),
    max: Math.max(...v),
    runs: v,
  });
  const rawMedian = percentile(rawMs, 50);
  return {
    ours_ms: stats(oursMs),
    raw_ms: stats(rawMs),
    ratio_of_medians: percentile(oursMs, 50) / rawMedian,
    cpu: cores,
    default_cpu: {
      cpu: DEFAULT_JOB_CPU,
      ours_ms: stats(defaultMs),
      ratio_of_medians: percentile(defaultMs, 50) / rawMedian,
    },
  };
}

// --- PostgreSQL figures ----------------------------------------------------------------------------------

/** Sizes of the transactions that wrote rows: rows sharing an xmin were written by the same one. */
function batchFigures(sizes: number[]) {
  const rows = sizes.reduce((a, b) => a + b, 0);
  return {
    transactions: sizes.length,
    rows,
    mean: rows / sizes.length,
    p50: percentile(sizes, 50),
    p95: percentile(sizes, 95),
    max: sizes.length ? Math.max(...sizes) : Number.NaN,
  };
}

/** Events per persist transaction of the event consumer. */
async function eventBatches(stack: Stack, tag: string) {
  const sizes = await stack.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM execution_job_events e JOIN execution_jobs j ON j.id = e.job_id
      WHERE j.metadata->>'bench' = $1 GROUP BY e.xmin::text::bigint`,
    [tag],
  );
  return batchFigures(sizes.map((r) => r.n));
}

/**
 * Jobs per submit transaction (group commit) within a window of the submissions, from their audit
 * entries: never updated, so their xmin is the submitting transaction's (and created_at its start).
 */
async function submitBatches(stack: Stack, window: { from: Date; to: Date }) {
  const sizes = await stack.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM audit_log
      WHERE action = 'job.submitted' AND created_at BETWEEN $1 AND $2
      GROUP BY xmin::text::bigint`,
    [window.from, window.to],
  );
  return batchFigures(sizes.map((r) => r.n));
}

/** The worker's `finished` stamp → the persist transaction that stored it (its now()): the consumer's lag per job. */
async function consumerLag(stack: Stack, tag: string) {
  const ms = (
    await stack.query<{ ms: number }>(
      `SELECT extract(epoch FROM e.created_at - (e.data->>'at')::timestamptz) * 1000 AS ms
         FROM execution_job_events e JOIN execution_jobs j ON j.id = e.job_id
        WHERE j.metadata->>'bench' = $1 AND e.type = 'finished'`,
      [tag],
    )
  ).map((r) => Number(r.ms));
  return summarize(ms);
}

/** Rows written and transactions committed in the stack's database over the whole run (read once its backends exited). */
async function writesPerJob(url: string, jobs: number, ownQueries: number) {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const tables = (
      await c.query<{ relname: string; ins: string; upd: string; del: string }>(
        `SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del FROM pg_stat_user_tables
          WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname`,
      )
    ).rows;
    const db = (
      await c.query<{ commits: string; rollbacks: string }>(
        'SELECT xact_commit AS commits, xact_rollback AS rollbacks FROM pg_stat_database WHERE datname = current_database()',
      )
    ).rows[0]!;
    const perTable: Record<string, { inserted: number; updated: number; deleted: number }> = {};
    let rows = 0;
    for (const t of tables) {
      const [i, u, d] = [Number(t.ins), Number(t.upd), Number(t.del)];
      perTable[t.relname] = { inserted: i / jobs, updated: u / jobs, deleted: d / jobs };
      rows += i + u + d;
    }
    return {
      jobs,
      rows_written_per_job: rows / jobs,
      per_table_per_job: perTable,
      // the bench's own queries are transactions too (autocommit): taken out
      transactions_per_job: (Number(db.commits) - ownQueries) / jobs,
      rollbacks: Number(db.rollbacks),
    };
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------------------------------------------

const loadAverage = () => loadavg().map((l) => Number(l.toFixed(2)));

export async function run(): Promise<void> {
  const started = performance.now();
  const log = (msg: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${msg}`);
  const c = CONFIG;
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 3 });
  const loadAtStart = loadAverage();
  let rawWorker: RawWorker | undefined;
  let rawQueue: Queue | undefined;
  let stack: Stack | undefined;
  try {
    const info = await redis.info('server');
    const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    stack = await startStack({ workerSlots: c.workerSlots, logLevel: c.logLevel, httpSockets: c.submitters });
    const pgVersion = (await stack.query<{ v: string }>(`SELECT current_setting('server_version') AS v`))[0]!
      .v;
    log(
      `setup: control plane pid ${stack.controlPlane.proc.pid}, worker pid ${stack.worker.proc.pid} ` +
        `(${c.workerSlots} slots), database ${stack.db.name}, Redis prefix ${stack.redis.prefix}`,
    );

    // --- a) throughput ---
    await oursThroughput(stack, redis, c.warmupJobs, 'warmup');
    const ours = await oursThroughput(stack, redis, c.throughputJobs, 'throughput');
    log(`a) ours: ${ours.completed} jobs in ${fmt(ours.seconds)} s`);
    const batched: SubmitMode = { batch: c.batchSize, inFlight: c.batchSubmitters };
    await oursThroughput(stack, redis, c.warmupJobs, 'warmup-batched', batched);
    const oursBatched = await oursThroughput(stack, redis, c.throughputJobs, 'throughput-batched', batched);
    log(`a) ours, batched: ${oursBatched.completed} jobs in ${fmt(oursBatched.seconds)} s`);
    rawWorker = new RawWorker({
      redisUrl: TEST_REDIS_URL,
      prefix: `${stack.redis.prefix}raw`,
      queue: 'bench-raw',
      concurrency: c.workerSlots,
    });
    await rawWorker.ready();
    rawQueue = new Queue('bench-raw', {
      connection: bullConnection(TEST_REDIS_URL),
      prefix: `${stack.redis.prefix}raw`,
    });
    rawQueue.on('error', () => undefined);
    await rawThroughput(rawQueue, rawWorker, redis, c.warmupJobs);
    const raw = await rawThroughput(rawQueue, rawWorker, redis, c.throughputJobs);
    log(`a) raw: ${raw.jobs} jobs in ${fmt(raw.seconds)} s`);
    await rawThroughput(rawQueue, rawWorker, redis, c.warmupJobs, batched);
    const rawBatched = await rawThroughput(rawQueue, rawWorker, redis, c.throughputJobs, batched);
    log(`a) raw, batched: ${rawBatched.jobs} jobs in ${fmt(rawBatched.seconds)} s`);

    // --- b) latency at a paced rate ---
    const latencyJobs = c.latencyRatePerS * c.latencySeconds;
    const oursLat = await oursLatency(stack, latencyJobs, c.latencyRatePerS);
    log(`b) ours: ${latencyJobs} jobs at ${c.latencyRatePerS}/s done`);
    const rawLat = await rawLatency(rawQueue, rawWorker, latencyJobs, c.latencyRatePerS);
    log(`b) raw: ${latencyJobs} jobs at ${c.latencyRatePerS}/s done`);
    const hop = await redisHop(redis, c.hopRoundTrips, c.latencyRatePerS);
    log(`b) one Redis round trip: ${c.hopRoundTrips} back to back and at ${c.latencyRatePerS}/s done`);
    await rawQueue.close();
    rawQueue = undefined;
    await rawWorker.close();
    rawWorker = undefined;

    // --- PostgreSQL figures of our path ---
    const batches = await eventBatches(stack, 'throughput');
    const submits = await submitBatches(stack, ours.submitWindow);
    const lag = await consumerLag(stack, 'throughput');
    const lagPaced = await consumerLag(stack, 'latency');
    log('PostgreSQL figures read');
    await stack.stopProcesses();
    const writes = await writesPerJob(
      stack.db.url,
      2 * (c.warmupJobs + c.throughputJobs) + latencyJobs, // one job per request, then batched
      stack.ownQueries,
    );
    log('stack stopped');

    // --- c) Docker ---
    const docker = await dockerPhase(c.dockerRuns);
    log('c) Docker runs done');

    report({
      ours,
      raw,
      oursBatched,
      rawBatched,
      oursLat,
      rawLat,
      hop,
      batches,
      submits,
      lag,
      lagPaced,
      writes,
      docker,
      versions: { redis: redisVersion, postgres: pgVersion },
      load: { start: loadAtStart, end: loadAverage() },
    });
    const file = await writeResult(
      'execution',
      roundDeep({
        benchmark: 'execution',
        timestamp: new Date().toISOString(),
        machine: {
          ...machine(),
          redis_version: redisVersion,
          postgres_version: pgVersion,
          load_average_at_start: loadAtStart,
          load_average_at_end: loadAverage(),
        },
        config: CONFIG,
        throughput: { ours, raw, ratio_ours_vs_raw: ours.jobs_per_s / raw.jobs_per_s },
        throughput_batched: {
          batch_size: c.batchSize,
          requests_in_flight: c.batchSubmitters,
          ours: oursBatched,
          raw: rawBatched,
          ratio_ours_vs_raw: oursBatched.jobs_per_s / rawBatched.jobs_per_s,
        },
        latency: {
          ours: oursLat,
          raw: rawLat,
          ratio_p99_ours_vs_raw: oursLat.enqueue_to_start_ms.p99 / rawLat.enqueue_to_start_ms.p99,
          one_redis_round_trip: hop,
        },
        docker,
        postgres: {
          event_persist_batches: batches,
          submit_batches: submits,
          consumer_lag_ms: { throughput: lag, paced: lagPaced },
          writes,
        },
        goals: goals({ ours, raw, oursBatched, rawBatched, oursLat, rawLat, docker }),
        notes: [
          'batched: the same path with POST /api/v1/jobs/batch of batch_size jobs (requests_in_flight at a time) vs raw Queue.addBulk of the same size, as many in flight.',
          'ours: POST /api/v1/jobs (HTTP keep-alive) → control plane (child process) → PostgreSQL → BullMQ → worker (child process, process runtime, no-op command) → Redis stream → event consumer → PostgreSQL; done = status completed (COUNT poll).',
          'enqueue→start: ours from the POST returning to started_at (the worker stamps it when the runtime reports the start); raw from add() returning to the processor call; both Date.now(), ms resolution.',
          'CPU is read from /proc per process; PostgreSQL is the backends of the bench database (stack vs the bench own polling); Redis is server-wide (INFO).',
          'Everything (PostgreSQL, Redis, Docker, control plane, worker, bench) shares the machine; load average is printed at start and end.',
        ],
      }),
    );
    console.log(`\nresults written to ${file} (total ${fmt((performance.now() - started) / 1000, 1)} s)`);
  } finally {
    await rawQueue?.close().catch(() => undefined);
    await rawWorker?.close().catch(() => undefined);
    await stack?.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}

// --- report ----------------------------------------------------------------------------------------------

type Figures = {
  ours: Awaited<ReturnType<typeof oursThroughput>>;
  raw: Awaited<ReturnType<typeof rawThroughput>>;
  oursBatched: Awaited<ReturnType<typeof oursThroughput>>;
  rawBatched: Awaited<ReturnType<typeof rawThroughput>>;
  oursLat: Awaited<ReturnType<typeof oursLatency>>;
  rawLat: Awaited<ReturnType<typeof rawLatency>>;
  docker: DockerFigures;
};

/** Goal a) for one way of submitting: jobs/s, and the ratio to raw BullMQ submitting the same way. */
function throughputGoals(how: string, ours: Figures['ours'], raw: Figures['raw']): GoalResult[] {
  const ratio = ours.jobs_per_s / raw.jobs_per_s;
  return [
    {
      goal: `throughput, ${how}`,
      criterion: `full path ≥ ${GOAL_JOBS_PER_S} no-op jobs/s`,
      measured: `${fmt(ours.jobs_per_s, 0)} jobs/s`,
      passed: ours.jobs_per_s >= GOAL_JOBS_PER_S,
    },
    {
      goal: `throughput vs raw, ${how} (stretch)`,
      criterion: `full path ≥ ${GOAL_RATIO_STRETCH}× raw BullMQ`,
      measured: `${fmt(ratio, 3)}× (${fmt(ours.jobs_per_s, 0)} vs ${fmt(raw.jobs_per_s, 0)} jobs/s)`,
      passed: ratio >= GOAL_RATIO_STRETCH,
    },
  ];
}

function goals(f: Figures): GoalResult[] {
  const p99 = f.oursLat.enqueue_to_start_ms.p99 / f.rawLat.enqueue_to_start_ms.p99;
  const out: GoalResult[] = [
    ...throughputGoals('one job per request', f.ours, f.raw),
    ...throughputGoals(`batches of ${CONFIG.batchSize}`, f.oursBatched, f.rawBatched),
    {
      goal: 'enqueue→start p99',
      criterion: `ours ≤ ${GOAL_LATENCY_P99_RATIO}× raw at ${CONFIG.latencyRatePerS} jobs/s`,
      measured: `${fmt(f.oursLat.enqueue_to_start_ms.p99, 0)} vs ${fmt(f.rawLat.enqueue_to_start_ms.p99, 0)} ms = ${fmt(p99)}×`,
      passed: p99 <= GOAL_LATENCY_P99_RATIO,
    },
  ];
  out.push(
    'skipped' in f.docker
      ? {
          goal: 'Docker run',
          criterion: `≤ ${GOAL_DOCKER_RATIO}× raw dockerode`,
          measured: f.docker.skipped,
          passed: false,
        }
      : {
          goal: 'Docker run',
          criterion: `DockerRuntime.run() median ≤ ${GOAL_DOCKER_RATIO}× raw dockerode create/start/wait/remove`,
          measured: `${fmt(f.docker.ours_ms.median, 0)} vs ${fmt(f.docker.raw_ms.median, 0)} ms = ${fmt(f.docker.ratio_of_medians)}×`,
          passed: f.docker.ratio_of_medians <= GOAL_DOCKER_RATIO,
        },
  );
  return out;
}

function report(
  r: Figures & {
    batches: Awaited<ReturnType<typeof eventBatches>>;
    submits: Awaited<ReturnType<typeof submitBatches>>;
    lag: ReturnType<typeof summarize>;
    lagPaced: ReturnType<typeof summarize>;
    hop: Awaited<ReturnType<typeof redisHop>>;
    writes: Awaited<ReturnType<typeof writesPerJob>>;
    versions: { redis: string; postgres: string };
    load: { start: number[]; end: number[] };
  },
): void {
  const c = CONFIG;
  const m = machine();
  const line = (label: string, value: string, what = '') =>
    console.log(`  ${label.padEnd(38)} ${value.padEnd(26)} ${what}`);
  const lat = (s: ReturnType<typeof summarize>) =>
    `${fmt(s.p50, 0)} / ${fmt(s.p95, 0)} / ${fmt(s.p99, 0)} / ${fmt(s.max, 0)} ms`;
  const cpu = (f: CpuFigures) => {
    for (const [k, v] of Object.entries(f.ms_per_job))
      line(`  ${k}`, `${fmt(v * 1000, 0)} µs/job`, `${fmt(f.percent_of_core[k], 0)}% of a core`);
    line(
      '  machine busy',
      `${fmt(f.machine_busy_percent_of_all_cores, 0)}% of ${m.cores} cores`,
      'whole machine (/proc/stat), other processes included',
    );
    const top = Object.entries(f.redis_commands.per_job)
      .slice(0, 8)
      .map(([cmd, v]) => `${cmd} ${fmt(v.calls, 2)}`)
      .join(', ');
    line('  Redis commands', `${fmt(f.redis_commands.total_calls, 1)}/job`, top);
    line(
      '  system calls (reads + writes)',
      'per job',
      Object.entries(f.syscalls_per_job)
        .map(([k, v]) => `${k} ${fmt(v.reads, 1)} + ${fmt(v.writes, 1)}`)
        .join(', '),
    );
  };
  console.log('');
  console.log(
    `execution benchmark — ${c.throughputJobs} no-op jobs (+${c.warmupJobs} warm-up), ${c.submitters} concurrent submitters, ` +
      `worker with ${c.workerSlots} slots; ${c.latencySeconds * c.latencyRatePerS} jobs at ${c.latencyRatePerS}/s; ${c.dockerRuns} Docker runs each`,
  );
  console.log(
    `machine: ${m.cores} cores (${m.cpu_model}), node ${m.node}, Redis ${r.versions.redis}, PostgreSQL ${r.versions.postgres}; ` +
      `load average ${r.load.start.join(' ')} at start, ${r.load.end.join(' ')} at end; PostgreSQL, Redis, Docker and every process share the machine`,
  );
  console.log('');
  console.log('a) throughput');
  line(
    'ours: jobs/s',
    fmt(r.ours.jobs_per_s, 0),
    `POST → … → status completed in PostgreSQL (COUNT every ${c.pollMs} ms); ${r.ours.completed} jobs in ${fmt(r.ours.seconds)} s`,
  );
  line(
    'ours: POSTs/s',
    fmt(r.ours.submits_per_s, 0),
    `201 answers (${r.ours.refused} refused${r.ours.first_refusal ? `: ${r.ours.first_refusal}` : ''})`,
  );
  line(
    'raw BullMQ: jobs/s',
    fmt(r.raw.jobs_per_s, 0),
    `Queue.add + Worker with an empty processor, same Redis; ${r.raw.jobs} jobs in ${fmt(r.raw.seconds)} s`,
  );
  line('ours / raw', `${fmt(r.ours.jobs_per_s / r.raw.jobs_per_s, 3)}×`);
  console.log('  CPU, ours (per completed job):');
  cpu(r.ours.cpu);
  console.log('  CPU, raw (per job):');
  cpu(r.raw.cpu);
  console.log(
    `  batched: ${c.batchSize} jobs per request, ${c.batchSubmitters} requests in flight (raw: Queue.addBulk, the same)`,
  );
  line(
    'ours, batched: jobs/s',
    fmt(r.oursBatched.jobs_per_s, 0),
    `POST /api/v1/jobs/batch → … → completed; ${r.oursBatched.completed} jobs in ${fmt(r.oursBatched.seconds)} s (${r.oursBatched.refused} refused${r.oursBatched.first_refusal ? `: ${r.oursBatched.first_refusal}` : ''})`,
  );
  line(
    'raw BullMQ, batched: jobs/s',
    fmt(r.rawBatched.jobs_per_s, 0),
    `Queue.addBulk; ${r.rawBatched.jobs} jobs in ${fmt(r.rawBatched.seconds)} s`,
  );
  line('ours / raw, batched', `${fmt(r.oursBatched.jobs_per_s / r.rawBatched.jobs_per_s, 3)}×`);
  console.log('  CPU, ours batched (per completed job):');
  cpu(r.oursBatched.cpu);
  console.log('  CPU, raw batched (per job):');
  cpu(r.rawBatched.cpu);
  line(
    'ours: max queue depth',
    String(r.ours.max_queue_depth),
    'waiting + prioritized in BullMQ (sampled every 200 ms)',
  );
  line(
    'ours: max consumer lag',
    `${r.ours.max_consumer_lag_entries} entries`,
    `firehose entries not yet read by the group (pending, read but not acked: max ${r.ours.max_consumer_pending_entries})`,
  );
  line(
    'event-consumer batches',
    `${fmt(r.batches.mean, 1)} events mean`,
    `events per persist transaction: p50 ${fmt(r.batches.p50, 0)}, p95 ${fmt(r.batches.p95, 0)}, max ${fmt(r.batches.max, 0)} (${r.batches.transactions} transactions)`,
  );
  line(
    'submit batches (group commit)',
    `${fmt(r.submits.mean, 1)} jobs mean`,
    `jobs per submit transaction: p50 ${fmt(r.submits.p50, 0)}, p95 ${fmt(r.submits.p95, 0)}, max ${fmt(r.submits.max, 0)} (${r.submits.transactions} transactions)`,
  );
  line(
    'consumer lag per job p50/p95/p99/max',
    lat(r.lag),
    'worker stamps `finished` → the transaction that stored it',
  );
  line(
    'PostgreSQL rows written per job',
    fmt(r.writes.rows_written_per_job, 2),
    Object.entries(r.writes.per_table_per_job)
      .filter(([, t]) => t.inserted + t.updated + t.deleted >= 0.01)
      .map(
        ([k, t]) =>
          `${k} ${[t.inserted && `+${fmt(t.inserted)}`, t.updated && `~${fmt(t.updated)}`, t.deleted && `-${fmt(t.deleted)}`].filter(Boolean).join(' ')}`,
      )
      .join(', '),
  );
  line(
    'PostgreSQL transactions per job',
    fmt(r.writes.transactions_per_job, 2),
    `whole run, ${r.writes.jobs} jobs; the bench's own queries excluded`,
  );
  console.log('');
  console.log(`b) enqueue→start at ${c.latencyRatePerS} jobs/s (p50 / p95 / p99 / max)`);
  line(
    'ours: POST returned → started_at',
    lat(r.oursLat.enqueue_to_start_ms),
    'started_at: the worker, when the runtime reported the start',
  );
  line('raw: add() returned → processor called', lat(r.rawLat.enqueue_to_start_ms));
  line(
    'p99 ours / raw',
    `${fmt(r.oursLat.enqueue_to_start_ms.p99 / r.rawLat.enqueue_to_start_ms.p99)}×`,
    `${r.oursLat.jobs - r.oursLat.refused}/${r.oursLat.jobs} POSTs answered 201`,
  );
  line(
    'ours: POST returned → worker took it',
    lat(r.oursLat.enqueue_to_taken_ms),
    "BullMQ's processedOn (the worker's clock)",
  );
  line(
    'ours: worker took it → started_at',
    lat(r.oursLat.taken_to_start_ms),
    'slot, cancel check, runtime start',
  );
  line(
    'ours: POST sent → started_at',
    lat(r.oursLat.request_to_start_ms),
    `POST round trip ${lat(r.oursLat.submit_round_trip_ms)}`,
  );
  line(
    'raw: add() called → processor called',
    lat(r.rawLat.request_to_start_ms),
    `add() round trip ${lat(r.rawLat.add_round_trip_ms)}`,
  );
  line('consumer lag per job (paced)', lat(r.lagPaced));
  const hop = (h: (typeof r.hop)['back_to_back']) =>
    `${[h.round_trip_ms.p50, h.round_trip_ms.p95, h.round_trip_ms.p99].map((v) => fmt(v, 2)).join(' / ')} ms`;
  line(
    `one Redis round trip at ${r.hop.paced.rate_per_s}/s`,
    hop(r.hop.paced),
    `the hop ours makes before the start and raw does not (bench PING, p50 / p95 / p99); ` +
      `back to back ${hop(r.hop.back_to_back)}; bench CPU per round trip ${fmt(r.hop.paced.bench_cpu_us_per_round_trip, 0)} vs ${fmt(r.hop.back_to_back.bench_cpu_us_per_round_trip, 0)} µs`,
  );
  console.log('');
  console.log(`c) Docker: node -e 0 in ${c.dockerImage}, interleaved`);
  if ('skipped' in r.docker) line('skipped', r.docker.skipped);
  else {
    const d = r.docker;
    line(
      'DockerRuntime.run()',
      `median ${fmt(d.ours_ms.median, 0)} ms`,
      `min ${fmt(d.ours_ms.min, 0)}, max ${fmt(d.ours_ms.max, 0)}; cpu ${d.cpu}; create (limits, labels, read-only root, init) → attach → start → wait → inspect → remove`,
    );
    line(
      'raw dockerode',
      `median ${fmt(d.raw_ms.median, 0)} ms`,
      `min ${fmt(d.raw_ms.min, 0)}, max ${fmt(d.raw_ms.max, 0)}; create → start → wait → remove`,
    );
    line('ours / raw (medians)', `${fmt(d.ratio_of_medians)}×`);
    line(
      `DockerRuntime.run(), cpu ${d.default_cpu.cpu}`,
      `median ${fmt(d.default_cpu.ours_ms.median, 0)} ms`,
      `${fmt(d.default_cpu.ratio_of_medians)}× raw: the job default's CFS quota stretches node's own start-up (information)`,
    );
  }
  console.log('');
  console.log('goals:');
  goals(r).forEach(printGoal);
}
