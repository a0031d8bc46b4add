/**
 * Fleet benchmark (`npm run bench -- fleet`).
 *
 * 2,000 simulated workers beat through the real `RedisHeartbeatSender` (one Lua EVALSHA per beat)
 * every 1 s for 30 s, on a small pool of Redis connections; after ~10 s, 20 of them stop. They run in
 * a worker thread of this process (bench/fleet-sim.worker.ts). On the main thread the real
 * `ReapLostWorkersUseCase` runs like the control plane's ReaperService (every interval/2, under the
 * Redis leader lock) against a fresh migrated PostgreSQL database holding the 2,000 workers.
 *
 * Measured: Redis commands/s, reaper cycle time, and how long after the grace period the stopped
 * workers were marked lost (in heartbeat intervals). Then, in the same run on the same machine, a raw
 * baseline: the same 2,000 workers writing only `HSET` + `PEXPIRE` + `ZADD` (one pipelined round trip,
 * no Lua, no token check, no control messages) for 10 s, and the ratio of our per-beat cost to it.
 *
 * A measurement, not a test: goals are printed MET or MISSED and written to bench/results/fleet.json.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Redis } from 'ioredis';
import { type FleetSettings, ReapLostWorkersUseCase } from '@agentfleet/fleet';
import { NodeCredentialHasher } from '@agentfleet/infra-crypto';
import {
  TypeormUnitOfWork,
  accessRepositories,
  createDataSource,
  fleetRepositories,
} from '@agentfleet/infra-persistence';
import { RedisFleetLiveness, RedisKeys, RedisLeaderLock, createRedis } from '@agentfleet/infra-redis';
import { TEST_REDIS_URL, createTestDatabase, createTestRedis } from '@agentfleet/testing';
import {
  type GoalResult,
  LOOP_DELAY_RESOLUTION_MS,
  loopDelayMs,
  fmt,
  machine,
  percentile,
  printGoal,
  roundDeep,
  sleep,
  summarize,
  writeResult,
} from './support';
import type { SimCounters, SimFinish, SimInit, SimRequest, SimResponse } from './fleet-sim.worker';

const CONFIG = {
  workers: 2_000,
  heartbeatIntervalMs: 1_000,
  gracePeriodMs: 3_000,
  /** The control plane runs the reaper every interval/2. */
  reaperEveryMs: 500,
  /** Control plane default AGENTFLEET_LEADER_LOCK_TTL_MS. */
  leaderLockTtlMs: 5_000,
  runMs: 30_000,
  stopAfterMs: 10_000,
  stoppedWorkers: 20,
  redisConnections: 4,
  baselineMs: 10_000,
  registrationChunk: 250,
} as const;

const GOAL_DETECTION_INTERVALS = 2;
const GOAL_REAPER_CYCLE_MS = 50;

// ---------------------------------------------------------------------------------------------------

interface RedisSnapshot {
  at: number;
  commands: number;
  cpuSec: number;
}

function infoField(info: string, name: string): number {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return m ? Number(m[1]!.trim()) : Number.NaN;
}

async function redisSnapshot(r: Redis): Promise<RedisSnapshot> {
  const info = await r.info();
  return {
    at: performance.now(),
    commands: infoField(info, 'total_commands_processed'),
    cpuSec: infoField(info, 'used_cpu_sys') + infoField(info, 'used_cpu_user'),
  };
}

/** The simulated fleet in its worker thread (bench/fleet-sim.worker.ts), driven by request/response. */
class Simulator {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;

  constructor(init: SimInit) {
    this.worker = new Worker(join(__dirname, 'fleet-sim.worker.js'), { workerData: init });
    this.worker.on('message', (m: SimResponse) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.data);
      else p.reject(new Error(`simulator: ${m.error}`));
    });
    this.exited = new Promise((resolve) => {
      this.worker.on('error', (e) => this.failAll(e));
      this.worker.on('exit', () => {
        this.failAll(new Error('simulator thread exited'));
        resolve();
      });
    });
  }

  private failAll(e: Error) {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  call<T>(req: DistributiveOmit<SimRequest, 'id'>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  /** Closes the thread's Redis connections and waits for it to exit (terminates it after 5 s). */
  async close(): Promise<void> {
    const timer = setTimeout(() => void this.worker.terminate(), 5_000);
    await this.call({ cmd: 'close' }).catch(() => this.worker.terminate());
    await this.exited;
    clearTimeout(timer);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The control plane's ReaperService loop, with each cycle timed (as the service times it). */
class ReaperLoop {
  readonly cycles: { ms: number; lost: number; recovered: number; stopped: number }[] = [];
  /** worker id → when the reaper marked it lost (Redis clock, as written to workers.lost_at). */
  readonly lostAt = new Map<string, number>();
  recovered = 0;
  notLeaderTicks = 0;
  readonly errors: string[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private cycle: Promise<void> = Promise.resolve();
  private leader = false;

  constructor(
    private readonly lock: RedisLeaderLock,
    private readonly reap: ReapLostWorkersUseCase,
    private readonly everyMs: number,
  ) {}

  start() {
    this.running = true;
    this.schedule(0);
  }

  async stop() {
    this.running = false;
    clearTimeout(this.timer);
    await this.cycle;
    if (this.leader) await this.lock.release().catch(() => undefined);
  }

  private schedule(ms: number) {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.cycle = this.tick().finally(() => this.schedule(this.everyMs));
    }, ms);
  }

  private async tick() {
    try {
      this.leader = await this.lock.acquireOrRenew();
      if (!this.leader) {
        this.notLeaderTicks++;
        return;
      }
      const t0 = performance.now();
      const r = await this.reap.execute();
      const ms = performance.now() - t0;
      this.cycles.push({ ms, lost: r.lost.length, recovered: r.recovered.length, stopped: r.stopped.length });
      for (const w of r.lost) this.lostAt.set(w.id, (w.lostAt ?? new Date()).getTime());
      this.recovered += r.recovered.length;
    } catch (e) {
      this.errors.push(e instanceof Error ? e.message : String(e));
    }
  }
}

function pickDistinct(n: number, k: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(Math.random() * (n - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, k);
}

interface PhaseFigures {
  window_s: number;
  beats: number;
  beats_per_s: number;
  beat_failures: number;
  redis_commands_per_s: number;
  redis_commands_per_beat: number;
  redis_cpu_us_per_beat: number;
  simulator_cpu_us_per_beat: number;
  beat_latency_ms: { p50: number; p99: number; max: number };
  simulator_event_loop_delay_ms: { p99: number; max: number };
}

interface Mark {
  redis: RedisSnapshot;
  sim: SimCounters;
}

async function mark(stats: Redis, sim: Simulator): Promise<Mark> {
  const [redis, counters] = await Promise.all([
    redisSnapshot(stats),
    sim.call<SimCounters>({ cmd: 'counters' }),
  ]);
  return { redis, sim: counters };
}

function phaseFigures(from: Mark, to: Mark, fin: SimFinish): PhaseFigures {
  const windowS = (to.redis.at - from.redis.at) / 1000;
  const beats = to.sim.beats - from.sim.beats;
  const lat = summarize(fin.latenciesMs);
  let failures = 0;
  for (const v of Object.values(fin.failures)) failures += v;
  return {
    window_s: windowS,
    beats,
    beats_per_s: beats / windowS,
    beat_failures: failures,
    redis_commands_per_s: (to.redis.commands - from.redis.commands) / windowS,
    redis_commands_per_beat: (to.redis.commands - from.redis.commands) / beats,
    redis_cpu_us_per_beat: ((to.redis.cpuSec - from.redis.cpuSec) * 1e6) / beats,
    simulator_cpu_us_per_beat: (to.sim.cpuUs - from.sim.cpuUs) / beats,
    beat_latency_ms: { p50: lat.p50, p99: lat.p99, max: lat.max },
    simulator_event_loop_delay_ms: fin.eventLoopDelayMs,
  };
}

// ---------------------------------------------------------------------------------------------------

export async function run(): Promise<void> {
  const started = performance.now();
  const log = (msg: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${msg}`);
  const c = CONFIG;
  const settingsNote =
    `${c.workers} workers, heartbeat every ${c.heartbeatIntervalMs} ms, grace ${c.gracePeriodMs} ms, ` +
    `reaper every ${c.reaperEveryMs} ms, ${c.redisConnections} Redis connections for the workers`;

  const db = await createTestDatabase();
  const testRedis = createTestRedis();
  const stats = testRedis.redis;
  const ds = createDataSource({ url: db.url, poolSize: 10, applicationName: 'agentfleet-bench-fleet' });
  const controlPlaneRedis = createRedis({ url: TEST_REDIS_URL, name: 'af-bench-control-plane' });
  let sim: Simulator | undefined;
  let reaper: ReaperLoop | undefined;
  try {
    await ds.initialize();
    await controlPlaneRedis.ping();
    const keys = new RedisKeys(testRedis.prefix);
    const settings: FleetSettings = {
      heartbeatIntervalMs: c.heartbeatIntervalMs,
      gracePeriodMs: c.gracePeriodMs,
      redisKeyPrefix: testRedis.prefix,
    };

    const [redisInfo, pgVersion] = await Promise.all([
      stats.info('server'),
      ds
        .query<{ server_version: string }[]>('SHOW server_version')
        .then((r) => r[0]?.server_version ?? 'unknown'),
    ]);
    const redisVersion = /^redis_version:(.*)$/m.exec(redisInfo)?.[1]?.trim() ?? 'unknown';
    // ours: the stats and control-plane connections (the simulator's are not open yet)
    const otherClientsAtStart = infoField(await stats.info('clients'), 'connected_clients') - 2;

    // --- setup: one organization, one worker token, 2,000 registered workers (real repositories) ---
    const uow = new TypeormUnitOfWork(ds, fleetRepositories);
    const setupUow = new TypeormUnitOfWork(ds, (em) => ({
      access: accessRepositories(em),
      fleet: fleetRepositories(em),
    }));
    const t0Setup = performance.now();
    const token = await setupUow.run(async (r) => {
      const org = await r.access.organizations.create({
        name: `bench-fleet-${randomUUID().slice(0, 8)}`,
        displayName: 'fleet benchmark',
        settings: {},
      });
      const issued = new NodeCredentialHasher().issue('awt');
      return r.fleet.workerTokens.create({
        organizationId: org.id,
        name: 'bench-fleet',
        prefix: issued.prefix,
        tokenHash: issued.hash,
        labels: {},
        capabilities: ['execute'],
        maxConcurrentTasks: 4,
        pools: ['default'],
        createdBy: null,
        expiresAt: null,
      });
    });
    const chunks: number[][] = [];
    for (let i = 0; i < c.workers; i += c.registrationChunk)
      chunks.push(Array.from({ length: Math.min(c.registrationChunk, c.workers - i) }, (_, j) => i + j));
    const registered = await Promise.all(
      chunks.map((chunk) =>
        // one transaction per chunk, chunks in parallel over the pool; within a transaction one at a time
        uow.run(async (repos) => {
          const out = [];
          for (const i of chunk)
            out.push(
              await repos.workers.upsertRegistration({
                organizationId: token.organizationId,
                tokenId: token.id,
                instanceId: `bench-${i}`,
                hostname: `bench-host-${i}`,
                version: '0.1.0-bench',
                protocolVersion: 1,
                labels: {},
                capabilities: token.capabilities,
                pools: token.pools,
                capacity: { slots: 4 },
                concurrency: 4,
                registeredAt: new Date(),
              }),
            );
          return out;
        }),
      ),
    );
    const workerIds = registered.flat().map((w) => w.id);
    const liveness = new RedisFleetLiveness(controlPlaneRedis, keys);
    await liveness.publishTokenState(token.id, { revoked: false, expiresAt: null });
    log(
      `setup: database ${db.name}, Redis prefix ${testRedis.prefix}; ${workerIds.length} workers registered in PostgreSQL in ${fmt(performance.now() - t0Setup, 0)} ms`,
    );

    sim = new Simulator({
      redisUrl: TEST_REDIS_URL,
      prefix: testRedis.prefix,
      workerIds,
      tokenId: token.id,
      intervalMs: c.heartbeatIntervalMs,
      ttlMs: c.heartbeatIntervalMs * 3,
      connections: c.redisConnections,
    });
    reaper = new ReaperLoop(
      new RedisLeaderLock(
        controlPlaneRedis,
        keys.leader('reaper'),
        `${hostname()}:${process.pid}:bench`,
        c.leaderLockTtlMs,
      ),
      new ReapLostWorkersUseCase(uow, liveness, settings),
      c.reaperEveryMs,
    );

    // --- phase 1: our path (real heartbeat sender in the simulator thread, real reaper on this thread) ---
    log(
      `phase 1 (ours): ${settingsNote}; ${c.runMs / 1000} s, stopping ${c.stoppedWorkers} workers at ${c.stopAfterMs / 1000} s`,
    );
    const reaperLoopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    reaperLoopDelay.enable();
    reaper.start();
    await sim.call({ cmd: 'start', phase: 'ours' });
    const m0 = await mark(stats, sim);

    await sleep(c.stopAfterMs);
    const stoppedIdx = pickDistinct(c.workers, c.stoppedWorkers);
    const { lastAt } = await sim.call<{ lastAt: (number | null)[] }>({ cmd: 'stop', indices: stoppedIdx });
    log(`stopped ${stoppedIdx.length} workers (their last successful beat is recorded with Redis' clock)`);

    await sleep(Math.max(0, c.runMs - (performance.now() - m0.redis.at)));
    const m1 = await mark(stats, sim);
    const fin = await sim.call<SimFinish>({ cmd: 'finish' });
    await reaper.stop();
    reaperLoopDelay.disable();
    const fleet = phaseFigures(m0, m1, fin);
    log(`phase 1 done: ${fleet.beats} beats in ${fmt(fleet.window_s, 1)} s`);

    // detection of the stopped workers
    const stoppedIds = new Set(stoppedIdx.map((i) => workerIds[i]!));
    const detection = stoppedIdx.map((i, k) => {
      const id = workerIds[i]!;
      const last = lastAt[k] ?? null;
      const lost = reaper!.lostAt.get(id) ?? null;
      const delayIntervals =
        last !== null && lost !== null ? (lost - last - c.gracePeriodMs) / c.heartbeatIntervalMs : null;
      return { worker_id: id, last_beat_ms: last, lost_at_ms: lost, delay_intervals: delayIntervals };
    });
    const delays = detection.flatMap((d) => (d.delay_intervals === null ? [] : [d.delay_intervals]));
    const undetected = detection.filter((d) => d.delay_intervals === null).length;
    const falsePositives = [...reaper.lostAt.keys()].filter((id) => !stoppedIds.has(id)).length;
    const cycleTimes = reaper.cycles.map((x) => x.ms);
    const cycleMs = summarize(cycleTimes);
    const cyclesOverGoal = cycleTimes.filter((ms) => ms >= GOAL_REAPER_CYCLE_MS).length;
    const lostCycles = reaper.cycles.filter((x) => x.lost > 0).map((x) => ({ ms: x.ms, lost: x.lost }));

    // --- phase 2: raw baseline (plain pipelined HSET + PEXPIRE + ZADD, no Lua / token check / controls) ---
    log(
      `phase 2 (raw baseline): same ${c.workers} workers and connections, no reaper, ${c.baselineMs / 1000} s`,
    );
    await sim.call({ cmd: 'start', phase: 'raw' });
    const r0 = await mark(stats, sim);
    await sleep(c.baselineMs);
    const r1 = await mark(stats, sim);
    const rawFin = await sim.call<SimFinish>({ cmd: 'finish' });
    const baseline = phaseFigures(r0, r1, rawFin);
    log('phase 2 done');

    // --- report ---
    const ratio = {
      redis_cpu_per_beat: fleet.redis_cpu_us_per_beat / baseline.redis_cpu_us_per_beat,
      redis_commands_per_beat: fleet.redis_commands_per_beat / baseline.redis_commands_per_beat,
      simulator_cpu_per_beat: fleet.simulator_cpu_us_per_beat / baseline.simulator_cpu_us_per_beat,
      beat_latency_p50: fleet.beat_latency_ms.p50 / baseline.beat_latency_ms.p50,
      beats_per_s: fleet.beats_per_s / baseline.beats_per_s,
    };
    const maxDelay = delays.length ? Math.max(...delays) : Number.NaN;
    const goals: GoalResult[] = [
      {
        goal: 'detection',
        criterion: `every stopped worker marked lost within ${GOAL_DETECTION_INTERVALS} intervals after the grace period`,
        measured: `${stoppedIdx.length - undetected}/${stoppedIdx.length} detected, max ${fmt(maxDelay)} intervals`,
        passed: undetected === 0 && maxDelay <= GOAL_DETECTION_INTERVALS,
      },
      {
        goal: 'reaper cycle',
        criterion: `every reaper cycle under ${GOAL_REAPER_CYCLE_MS} ms (max of all cycles)`,
        measured:
          `max ${fmt(cycleMs.max, 1)} ms over ${cycleMs.count} cycles ` +
          `(p95 ${fmt(cycleMs.p95, 1)} ms, ${cyclesOverGoal} at or over ${GOAL_REAPER_CYCLE_MS} ms)`,
        passed: cycleMs.count > 0 && cycleMs.max < GOAL_REAPER_CYCLE_MS,
      },
    ];

    const line = (label: string, value: string, what: string) =>
      console.log(`  ${label.padEnd(36)} ${value.padEnd(24)} ${what}`);
    const m = machine();
    const rl = loopDelayMs(reaperLoopDelay);
    console.log('');
    console.log(`fleet benchmark — ${settingsNote}`);
    console.log(
      `machine: ${m.cores} cores (${m.cpu_model}), node ${m.node}, Redis ${redisVersion}, PostgreSQL ${pgVersion}; ` +
        'PostgreSQL, Redis and this process share the machine',
    );
    console.log(
      'layout: simulated workers in a worker thread with their own Redis connections; the reaper on the main ' +
        'thread with its own Redis connection and PostgreSQL pool (as in a control-plane replica)',
    );
    if (otherClientsAtStart > 0)
      console.log(
        `note: ${otherClientsAtStart} other Redis client(s) were connected; server-wide Redis figures include their load`,
      );
    console.log('');
    console.log(
      `ours: RedisHeartbeatSender (one Lua EVALSHA: token check, HSET+PEXPIRE+ZADD, control messages) + reaper, ${fmt(fleet.window_s, 1)} s`,
    );
    line(
      'beats/s',
      fmt(fleet.beats_per_s, 0),
      `successful beats (${fleet.beats}, ${fleet.beat_failures} failed)`,
    );
    line(
      'Redis commands/s',
      fmt(fleet.redis_commands_per_s, 0),
      'INFO total_commands_processed delta / window (whole server; Redis counts commands run inside Lua)',
    );
    line(
      'Redis commands per beat',
      fmt(fleet.redis_commands_per_beat),
      'the above / beats: EVALSHA + HMGET, TIME, HSET, PEXPIRE, ZADD, LRANGE; the reaper adds a little',
    );
    line(
      'Redis CPU per beat',
      `${fmt(fleet.redis_cpu_us_per_beat, 1)} µs`,
      'INFO used_cpu_sys+used_cpu_user delta / beats (whole server, reaper included)',
    );
    line(
      'simulator CPU per beat',
      `${fmt(fleet.simulator_cpu_us_per_beat, 1)} µs`,
      'CPU of the simulator thread / beats: timers, ioredis, reply parsing (client cost)',
    );
    line(
      'beat round trip p50 / p99 / max',
      `${fmt(fleet.beat_latency_ms.p50)} / ${fmt(fleet.beat_latency_ms.p99)} / ${fmt(fleet.beat_latency_ms.max, 1)} ms`,
      'beat() call to its result, in the simulator thread',
    );
    line(
      'largest gap between two beats',
      `${fmt(fin.maxGapMs / c.heartbeatIntervalMs)} intervals`,
      `of one running worker (Redis clock); must stay under the grace period (${c.gracePeriodMs / c.heartbeatIntervalMs})`,
    );
    line(
      'simulator event-loop delay p99 / max',
      `${fmt(fleet.simulator_event_loop_delay_ms.p99, 1)} / ${fmt(fleet.simulator_event_loop_delay_ms.max, 1)} ms`,
      'timer lateness of the 2,000 loops',
    );
    console.log('');
    console.log(
      `reaper: ReapLostWorkersUseCase every ${c.reaperEveryMs} ms under RedisLeaderLock (one leader)`,
    );
    line(
      'cycles',
      String(cycleMs.count),
      `timed around execute(), as ReaperService does; ${reaper.notLeaderTicks} not-leader ticks, ${reaper.errors.length} errors`,
    );
    line(
      'cycle time p50 / p95 / max',
      `${fmt(cycleMs.p50, 1)} / ${fmt(cycleMs.p95, 1)} / ${fmt(cycleMs.max, 1)} ms`,
      'idle cycle: Redis TIME + ZRANGEBYSCORE, PostgreSQL lost-ids + dead-token queries',
    );
    line(
      'cycles that marked workers lost',
      lostCycles.map((x) => `${x.lost} in ${fmt(x.ms, 1)} ms`).join(', ') || 'none',
      '(workers marked lost in that cycle, its time): + UPDATE…RETURNING, audit INSERT, Lua ZREM',
    );
    line(
      'reaper event-loop delay p99 / max',
      `${fmt(rl.p99, 1)} / ${fmt(rl.max, 1)} ms`,
      'of the main thread; a stall here lands in the cycle time',
    );
    console.log('');
    console.log(
      `detection of the ${stoppedIdx.length} stopped workers: (lost_at − last beat − grace) / interval, both on Redis' clock`,
    );
    line(
      'detected',
      `${stoppedIdx.length - undetected}/${stoppedIdx.length}`,
      'marked lost before the end of the run',
    );
    line(
      'delay p50 / max',
      `${fmt(percentile(delays, 50))} / ${fmt(maxDelay)} intervals`,
      `the reaper period alone allows up to ${fmt(c.reaperEveryMs / c.heartbeatIntervalMs)} interval + cycle time`,
    );
    line(
      'running workers wrongly marked lost',
      String(falsePositives),
      `should be 0 (recovered: ${reaper.recovered})`,
    );
    console.log('');
    console.log(
      `raw baseline: pipelined HSET + PEXPIRE + ZADD per beat (one round trip; no Lua, token check, control messages or reaper), ${fmt(baseline.window_s, 1)} s`,
    );
    line(
      'beats/s',
      fmt(baseline.beats_per_s, 0),
      `successful beats (${baseline.beats}, ${baseline.beat_failures} failed)`,
    );
    line('Redis commands/s', fmt(baseline.redis_commands_per_s, 0), 'same measure as above');
    line('Redis commands per beat', fmt(baseline.redis_commands_per_beat), '3 by construction');
    line('Redis CPU per beat', `${fmt(baseline.redis_cpu_us_per_beat, 1)} µs`, 'same measure as above');
    line(
      'simulator CPU per beat',
      `${fmt(baseline.simulator_cpu_us_per_beat, 1)} µs`,
      'same measure; ioredis builds a Pipeline object per beat here',
    );
    line(
      'beat round trip p50 / p99 / max',
      `${fmt(baseline.beat_latency_ms.p50)} / ${fmt(baseline.beat_latency_ms.p99)} / ${fmt(baseline.beat_latency_ms.max, 1)} ms`,
      '',
    );
    console.log('');
    console.log('ours / raw (same machine, same run; above 1 means ours costs more):');
    line(
      'Redis CPU per beat',
      `${fmt(ratio.redis_cpu_per_beat)}×`,
      'the price of the token check, the Redis-clock timestamp and control-message pickup',
    );
    line(
      'Redis commands per beat',
      `${fmt(ratio.redis_commands_per_beat)}×`,
      '7 vs 3, but inside one script',
    );
    line(
      'simulator CPU per beat',
      `${fmt(ratio.simulator_cpu_per_beat)}×`,
      'one scripted command vs one Pipeline',
    );
    line('beat round trip p50', `${fmt(ratio.beat_latency_p50)}×`, '');
    line('beats/s', `${fmt(ratio.beats_per_s)}×`, 'both paced by the 1 s interval: ~1 means both keep up');
    console.log('');
    console.log('goals:');
    goals.forEach(printGoal);

    const result = roundDeep({
      benchmark: 'fleet',
      timestamp: new Date().toISOString(),
      machine: {
        ...m,
        redis_version: redisVersion,
        postgres_version: pgVersion,
        other_redis_clients_at_start: otherClientsAtStart,
      },
      config: CONFIG,
      ours: {
        description:
          'RedisHeartbeatSender.beat (one Lua EVALSHA: token check, HSET + PEXPIRE + ZADD, control messages) + ReapLostWorkersUseCase',
        ...fleet,
        max_gap_between_beats_intervals: fin.maxGapMs / c.heartbeatIntervalMs,
        failures: fin.failures,
      },
      reaper: {
        cycles: cycleMs.count,
        not_leader_ticks: reaper.notLeaderTicks,
        errors: reaper.errors.slice(0, 10),
        cycle_ms: { p50: cycleMs.p50, p95: cycleMs.p95, max: cycleMs.max },
        cycles_at_or_over_goal: cyclesOverGoal,
        cycles_marking_lost: lostCycles,
        recovered: reaper.recovered,
        event_loop_delay_ms: rl,
      },
      detection: {
        stopped: stoppedIdx.length,
        detected: stoppedIdx.length - undetected,
        delay_intervals: { p50: percentile(delays, 50), max: maxDelay },
        false_positives: falsePositives,
        workers: detection,
      },
      baseline: {
        description:
          'pipelined HSET + PEXPIRE + ZADD per beat; no Lua, token check, control messages or reaper',
        ...baseline,
        failures: rawFin.failures,
      },
      ratio_ours_vs_baseline: ratio,
      goals,
      notes: [
        'Redis commands/s and Redis CPU are server-wide (INFO), so they include any other client of the same Redis.',
        'Redis counts the commands a Lua script runs: one heartbeat is EVALSHA + HMGET, TIME, HSET, PEXPIRE, ZADD, LRANGE.',
        'Detection delay uses Redis time for both the last beat (returned by the script) and lost_at (reaper now()).',
        'The simulated workers run in a worker thread of the benchmark process; the reaper runs on the main thread.',
      ],
    });
    const file = await writeResult('fleet', result);
    console.log(`\nresults written to ${file} (total ${fmt((performance.now() - started) / 1000, 1)} s)`);
  } finally {
    await reaper?.stop().catch(() => undefined);
    await sim?.close().catch(() => undefined);
    await controlPlaneRedis.quit().catch(() => controlPlaneRedis.disconnect());
    await ds.destroy().catch(() => undefined);
    await db.drop().catch((e: unknown) => console.error(`could not drop database ${db.name}: ${String(e)}`));
    await testRedis
      .cleanup()
      .catch((e: unknown) => console.error(`could not clean Redis prefix ${testRedis.prefix}: ${String(e)}`));
  }
}
