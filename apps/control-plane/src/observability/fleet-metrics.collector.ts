import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { FleetLiveness, FleetStatsReader } from '@agentfleet/fleet';
import { type Metrics, replaceGaugeSeries } from '@agentfleet/infra-observability';
import type { BullmqExecutionQueue } from '@agentfleet/infra-queue';
import { RedisJobEventConsumer, type RedisKeys } from '@agentfleet/infra-redis';
import type { Redis } from 'ioredis';
import { CONTROL_PLANE_ENV, type ControlPlaneEnv } from '../env';
import { ReaperService } from '../fleet/reaper.service';
import {
  FLEET_LIVENESS,
  FLEET_STATS,
  JOB_QUEUE,
  METRICS_REGISTRY,
  REDIS,
  REDIS_KEYS,
  TARGET_SLOTS,
} from '../tokens';
import type { TargetSlots } from '@agentfleet/execution';

const QUEUE_STATES = [
  'waiting',
  'prioritized',
  'delayed',
  'active',
  'paused',
  'failed',
  'completed',
] as const;

/**
 * The instance-wide gauges (queues, workers, pools, heartbeat lag, firehose backlog) are read at scrape
 * time by the replica that holds the reaper's leader lock, so that summing over replicas does not
 * count them twice; on the other replicas these series are absent. The configuration gauges and
 * `agentfleet_leader` are exported by every replica.
 */
@Injectable()
export class FleetMetricsCollector implements OnModuleInit {
  private readonly firehose: RedisJobEventConsumer;

  constructor(
    @Inject(METRICS_REGISTRY) private readonly metrics: Metrics,
    private readonly reaper: ReaperService,
    @Inject(FLEET_STATS) private readonly stats: FleetStatsReader,
    @Inject(FLEET_LIVENESS) private readonly liveness: FleetLiveness,
    @Inject(JOB_QUEUE) private readonly queue: BullmqExecutionQueue,
    @Inject(REDIS) redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    @Inject(CONTROL_PLANE_ENV) private readonly env: ControlPlaneEnv,
    @Inject(TARGET_SLOTS) private readonly slots: TargetSlots,
  ) {
    // the group name the consumers use (JobEventConsumerService); XINFO only reads
    this.firehose = new RedisJobEventConsumer(redis, keys, 'control-plane', 'metrics');
  }

  onModuleInit() {
    const m = this.metrics;
    m.gauge('heartbeatInterval').set(this.env.AGENTFLEET_HEARTBEAT_INTERVAL_MS / 1000);
    m.gauge('workerGracePeriod').set(this.env.AGENTFLEET_WORKER_GRACE_PERIOD_MS / 1000);
    m.addCollector(() => this.collect());
  }

  private leaderGauges() {
    const m = this.metrics;
    return [
      m.gauge('queueJobs'),
      m.gauge('queueOldestWaiting'),
      m.gauge('queuePaused'),
      m.gauge('workers'),
      m.gauge('poolWorkersOnline'),
      m.gauge('poolSlots'),
      m.gauge('targetSlots'),
      m.gauge('heartbeatLag'),
      m.gauge('streamConsumerLag'),
      m.gauge('streamConsumerPending'),
    ];
  }

  async collect(): Promise<void> {
    const leader = this.reaper.isLeader;
    this.metrics.gauge('leader').set(leader ? 1 : 0);
    if (!leader) {
      for (const g of this.leaderGauges()) g.reset();
      return;
    }
    await Promise.all([this.collectFleetAndQueues(), this.collectFirehose()]);
  }

  private async collectFleetAndQueues(): Promise<void> {
    const m = this.metrics;
    const s = await this.stats.read();
    const takingJobs = s.online.filter((w) => w.scheduling === 'active');
    const [queues, live, beats, now, inUse] = await Promise.all([
      Promise.all(s.pools.map((pool) => this.queue.stats(pool))),
      this.liveness.readLive(takingJobs.map((w) => w.id)),
      // the reaper's own evidence (workers:alive scores): unlike the heartbeat hashes they do not expire
      this.liveness.lastBeats(s.online.map((w) => w.id)),
      this.liveness.now(),
      Promise.all(s.targets.map((t) => this.slots.count(t.id))),
    ]);

    // by pool and target name (what operators configure); same-named targets of two organizations add up
    const slots = new Map<string, { pool: string; target: string; in_use: number; max: number }>();
    s.targets.forEach((t, i) => {
      const key = `${t.pool}\u0000${t.name}`;
      const e = slots.get(key) ?? { pool: t.pool, target: t.name, in_use: 0, max: 0 };
      e.in_use += inUse[i] ?? 0;
      e.max += t.maxConcurrent;
      slots.set(key, e);
    });
    replaceGaugeSeries(
      m.gauge('targetSlots'),
      [...slots.values()].flatMap((e) =>
        (['in_use', 'max'] as const).map((state): [Record<string, string>, number] => [
          { pool: e.pool, target: e.target, state },
          e[state],
        ]),
      ),
    );

    replaceGaugeSeries(
      m.gauge('workers'),
      s.workers.map((w) => [{ status: w.status, scheduling: w.scheduling }, w.count]),
    );

    // a worker serving two pools counts (with all its slots) in each: slots are shared between its pools
    const online = new Map(s.pools.map((p) => [p, 0]));
    const busy = new Map(s.pools.map((p) => [p, 0]));
    const free = new Map(s.pools.map((p) => [p, 0]));
    for (const w of takingJobs) {
      const state = live.get(w.id);
      for (const pool of w.pools) {
        online.set(pool, (online.get(pool) ?? 0) + 1);
        busy.set(pool, (busy.get(pool) ?? 0) + (state?.running.length ?? 0));
        free.set(pool, (free.get(pool) ?? 0) + (state?.freeSlots ?? 0));
      }
    }
    replaceGaugeSeries(
      m.gauge('poolWorkersOnline'),
      [...online].map(([pool, n]) => [{ pool }, n]),
    );
    replaceGaugeSeries(m.gauge('poolSlots'), [
      ...[...busy].map(([pool, n]): [{ pool: string; state: string }, number] => [
        { pool, state: 'busy' },
        n,
      ]),
      ...[...free].map(([pool, n]): [{ pool: string; state: string }, number] => [
        { pool, state: 'free' },
        n,
      ]),
    ]);
    const oldestBeat = Math.min(...[...beats.values()].map((d) => d.getTime()));
    m.gauge('heartbeatLag').set(beats.size ? Math.max(0, (now.getTime() - oldestBeat) / 1000) : 0);

    replaceGaugeSeries(
      m.gauge('queueJobs'),
      queues.flatMap((q) =>
        QUEUE_STATES.map((state): [Record<string, string>, number] => [
          { queue: q.queue, pool: q.pool, state },
          q.counts[state] ?? 0,
        ]),
      ),
    );
    replaceGaugeSeries(
      m.gauge('queueOldestWaiting'),
      queues.map((q) => [{ queue: q.queue, pool: q.pool }, q.oldest_waiting_age_ms / 1000]),
    );
    replaceGaugeSeries(
      m.gauge('queuePaused'),
      queues.map((q) => [{ queue: q.queue, pool: q.pool }, q.paused ? 1 : 0]),
    );
  }

  private async collectFirehose(): Promise<void> {
    const info = await this.firehose.groupInfo();
    const stream = 'job-events';
    const lag = this.metrics.gauge('streamConsumerLag');
    const pending = this.metrics.gauge('streamConsumerPending');
    lag.reset();
    pending.reset();
    if (!info) return;
    if (info.lag !== null) lag.set({ stream }, info.lag);
    pending.set({ stream }, info.pending);
  }
}
