/**
 * The simulated fleet of the fleet benchmark, in a worker thread of the benchmark process: 2,000 beat
 * loops on a small pool of Redis connections. Kept off the main thread so the reaper (main thread)
 * is timed on an event loop of its own, as in the control plane, not behind 2,000 workers' timers.
 *
 * Driven by request/response messages from bench/fleet.bench.ts (see SimRequest).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { Redis } from 'ioredis';
import type { WorkerBeat } from '@agentfleet/fleet';
import { RedisHeartbeatSender, RedisKeys, createRedis } from '@agentfleet/infra-redis';
import { LOOP_DELAY_RESOLUTION_MS, loopDelayMs } from './support';

export interface SimInit {
  redisUrl: string;
  /** Key prefix of our path; the raw baseline writes under `${prefix}raw:`. */
  prefix: string;
  workerIds: string[];
  tokenId: string;
  intervalMs: number;
  ttlMs: number;
  connections: number;
}

export type SimRequest =
  | { id: number; cmd: 'start'; phase: 'ours' | 'raw' }
  | { id: number; cmd: 'stop'; indices: number[] }
  | { id: number; cmd: 'counters' }
  | { id: number; cmd: 'finish' }
  | { id: number; cmd: 'close' };

export interface SimCounters {
  beats: number;
  /** CPU time of this thread (µs), cumulative. */
  cpuUs: number;
}

export interface SimFinish {
  latenciesMs: number[];
  failures: Record<string, number>;
  /** Largest gap between two successful beats of one worker (ms, on the clock `beat` reports). */
  maxGapMs: number;
  eventLoopDelayMs: { p99: number; max: number };
}

export type SimResponse = { id: number; ok: true; data: unknown } | { id: number; ok: false; error: string };

/** CPU of this thread alone (Node ≥ 23.9); the whole process' on older Node. */
export function threadCpuUs(): number {
  const p = process as NodeJS.Process & { threadCpuUsage?: () => NodeJS.CpuUsage };
  const u = p.threadCpuUsage ? p.threadCpuUsage() : process.cpuUsage();
  return u.user + u.system;
}

/**
 * N independent beat loops, each on its own timer with a random phase. Like the real worker
 * (WorkerLifecycle.scheduleBeat) the next beat is scheduled one interval after the previous one ends.
 */
export class BeatLoops {
  readonly latenciesMs: number[] = [];
  beats = 0;
  readonly failures = new Map<string, number>();
  /** Time of each worker's last successful beat (the clock `beat` reports: Redis' for our path). */
  readonly lastAt: (number | null)[];
  maxGapMs = 0;
  private readonly timers: (NodeJS.Timeout | undefined)[];
  private readonly inflight: (Promise<void> | undefined)[];
  private readonly stopped: boolean[];

  constructor(
    private readonly n: number,
    private readonly intervalMs: number,
    private readonly beat: (i: number) => Promise<number>,
  ) {
    this.lastAt = new Array<number | null>(n).fill(null);
    this.timers = new Array<NodeJS.Timeout | undefined>(n).fill(undefined);
    this.inflight = new Array<Promise<void> | undefined>(n).fill(undefined);
    this.stopped = new Array<boolean>(n).fill(false);
  }

  start() {
    for (let i = 0; i < this.n; i++)
      this.timers[i] = setTimeout(() => this.tick(i), Math.random() * this.intervalMs);
  }

  private tick(i: number) {
    if (this.stopped[i]) return;
    const t0 = performance.now();
    this.inflight[i] = this.beat(i)
      .then(
        (at) => {
          this.latenciesMs.push(performance.now() - t0);
          this.beats++;
          const prev = this.lastAt[i];
          if (prev !== null && prev !== undefined) this.maxGapMs = Math.max(this.maxGapMs, at - prev);
          this.lastAt[i] = at;
        },
        (e: unknown) => {
          const k = e instanceof Error ? e.message.slice(0, 80) : String(e);
          this.failures.set(k, (this.failures.get(k) ?? 0) + 1);
        },
      )
      .finally(() => {
        this.inflight[i] = undefined;
        if (!this.stopped[i]) this.timers[i] = setTimeout(() => this.tick(i), this.intervalMs);
      });
  }

  /** Stops one loop; resolves once its in-flight beat (if any) has landed, so `lastAt` is final. */
  async stop(i: number): Promise<void> {
    this.stopped[i] = true;
    clearTimeout(this.timers[i]);
    await this.inflight[i];
  }

  async stopAll(): Promise<void> {
    await Promise.all(Array.from({ length: this.n }, (_, i) => this.stop(i)));
  }
}

function simulate(init: SimInit, port: NonNullable<typeof parentPort>) {
  const conns: Redis[] = Array.from({ length: init.connections }, (_, k) =>
    createRedis({ url: init.redisUrl, name: `af-bench-worker-${k}` }),
  );
  const keys = new RedisKeys(init.prefix);
  const rawKeys = new RedisKeys(`${init.prefix}raw:`);
  const senders = conns.map((r) => new RedisHeartbeatSender(r, keys));
  const n = init.workerIds.length;

  /** Our path: the real heartbeat sender (Lua: token check, live hash + TTL, alive set, control messages). */
  const ours = async (i: number) => {
    const beat: WorkerBeat = {
      workerId: init.workerIds[i]!,
      tokenId: init.tokenId,
      ttlMs: init.ttlMs,
      status: 'online',
      version: '0.1.0-bench',
      hostname: `bench-host-${i}`,
      running: [],
      freeSlots: 4,
    };
    const res = await senders[i % senders.length]!.beat(beat);
    if (res.outcome !== 'ok') throw new Error(`heartbeat outcome ${res.outcome}`);
    return res.at.getTime();
  };

  /** Raw baseline: the same liveness write with nothing else, one pipelined round trip. */
  const raw = async (i: number) => {
    const id = init.workerIds[i]!;
    const now = Date.now();
    const key = rawKeys.worker(id);
    const res = await conns[i % conns.length]!.pipeline()
      .hset(key, {
        status: 'online',
        version: '0.1.0-bench',
        running: '[]',
        free_slots: 4,
        hostname: `bench-host-${i}`,
        last_seen: now,
      })
      .pexpire(key, init.ttlMs)
      .zadd(rawKeys.workersAlive(), now, id)
      .exec();
    const err = res?.find(([e]) => e)?.[0];
    if (err) throw err;
    return now;
  };

  let loops: BeatLoops | undefined;
  let loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });

  async function handle(req: SimRequest): Promise<unknown> {
    switch (req.cmd) {
      case 'start': {
        await Promise.all(conns.map((r) => r.ping()));
        loops = new BeatLoops(n, init.intervalMs, req.phase === 'ours' ? ours : raw);
        loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
        loopDelay.enable();
        loops.start();
        return {};
      }
      case 'stop': {
        const l = loops!;
        await Promise.all(req.indices.map((i) => l.stop(i)));
        return { lastAt: req.indices.map((i) => l.lastAt[i] ?? null) };
      }
      case 'counters':
        return { beats: loops?.beats ?? 0, cpuUs: threadCpuUs() } satisfies SimCounters;
      case 'finish': {
        const l = loops!;
        await l.stopAll();
        loopDelay.disable();
        loops = undefined;
        return {
          latenciesMs: l.latenciesMs,
          failures: Object.fromEntries(l.failures),
          maxGapMs: l.maxGapMs,
          eventLoopDelayMs: loopDelayMs(loopDelay),
        } satisfies SimFinish;
      }
      case 'close':
        await loops?.stopAll();
        await Promise.all(conns.map((r) => r.quit().catch(() => r.disconnect())));
        return {};
    }
  }

  port.on('message', (req: SimRequest) => {
    handle(req).then(
      (data) => {
        port.postMessage({ id: req.id, ok: true, data } satisfies SimResponse);
        if (req.cmd === 'close') port.close();
      },
      (e: unknown) =>
        port.postMessage({
          id: req.id,
          ok: false,
          error: e instanceof Error ? e.message : String(e),
        } satisfies SimResponse),
    );
  });
}

if (parentPort) simulate(workerData as SimInit, parentPort);
