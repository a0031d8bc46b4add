import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ReapLostWorkersUseCase } from '@agentfleet/fleet';
import { HandBackJobsUseCase } from '@agentfleet/execution';
import { RedisKeys, RedisLeaderLock } from '@agentfleet/infra-redis';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { CONTROL_PLANE_ENV, type ControlPlaneEnv } from '../env';
import type { Metrics } from '@agentfleet/infra-observability';
import { METRICS_REGISTRY, REDIS, REDIS_KEYS } from '../tokens';

/**
 * Every replica runs this loop; only the holder of the `leader:reaper` lock reaps. A cycle that fails
 * (PostgreSQL or Redis away) is logged and retried next tick; every step of a cycle is idempotent.
 */
@Injectable()
export class ReaperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('reaper');
  private readonly lock: RedisLeaderLock;
  private readonly lockKey: string;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private leader = false;
  private cycle: Promise<void> = Promise.resolve();
  /** Date.now() before which no worker is declared lost (Redis just came back; see the constructor). */
  private judgeLivenessFrom = 0;

  constructor(
    private readonly reap: ReapLostWorkersUseCase,
    private readonly handBack: HandBackJobsUseCase,
    @Inject(REDIS) redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    @Inject(CONTROL_PLANE_ENV) private readonly env: ControlPlaneEnv,
    @Inject(METRICS_REGISTRY) private readonly metrics: Metrics,
  ) {
    this.lockKey = keys.leader('reaper');
    this.lock = new RedisLeaderLock(
      redis,
      this.lockKey,
      `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      env.AGENTFLEET_LEADER_LOCK_TTL_MS,
    );
    // Redis restarted or failed over: the workers could not beat into it either, so every heartbeat
    // is old through no fault of theirs. They get one grace period from the moment this replica sees
    // Redis again before any is declared lost — else an outage longer than the grace period would
    // hand back (and run again) every running job of the fleet.
    let connectedBefore = redis.status === 'ready';
    redis.on('ready', () => {
      if (connectedBefore) {
        this.judgeLivenessFrom = Date.now() + env.AGENTFLEET_WORKER_GRACE_PERIOD_MS;
        this.logger.warn(
          `Redis is back: no worker is declared lost for ${env.AGENTFLEET_WORKER_GRACE_PERIOD_MS} ms while they reconnect`,
        );
      }
      connectedBefore = true;
    });
  }

  get isLeader(): boolean {
    return this.leader;
  }
  get holderId(): string {
    return this.lock.holderId;
  }
  /** Who holds the reaper lock now (maybe another replica) and for how much longer; reads only. */
  lockState(): Promise<{ key: string; holderId: string | null; ttlMs: number | null }> {
    return this.lock.state().then((s) => ({ key: this.lockKey, ...s }));
  }

  onApplicationBootstrap() {
    this.running = true;
    this.schedule(0);
  }

  async onApplicationShutdown() {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.cycle;
    // hand over at once instead of making the other replicas wait out the TTL
    if (this.leader) await this.lock.release().catch(() => undefined);
  }

  private schedule(ms: number) {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.cycle = this.tick().finally(() => this.schedule(this.env.AGENTFLEET_REAPER_INTERVAL_MS));
    }, ms);
  }

  private async tick(): Promise<void> {
    try {
      const leader = await this.lock.acquireOrRenew();
      if (leader !== this.leader)
        this.logger.log(leader ? `became reaper leader (${this.lock.holderId})` : 'lost reaper leadership');
      this.leader = leader;
      if (!leader) return;
      const started = performance.now();
      const r =
        Date.now() < this.judgeLivenessFrom
          ? { lost: [], recovered: [], stopped: [], reloaded: [] }
          : await this.reap.execute();
      for (const w of r.lost)
        this.logger.warn({
          worker_id: w.id,
          organization_id: w.organizationId,
          msg: 'worker lost (no heartbeat within the grace period)',
        });
      for (const w of r.recovered)
        this.logger.log({
          worker_id: w.id,
          organization_id: w.organizationId,
          msg: 'worker recovered (heartbeat returned)',
        });
      for (const w of r.stopped)
        this.logger.log({
          worker_id: w.id,
          organization_id: w.organizationId,
          msg: 'worker stopped (token revoked or expired)',
        });
      for (const id of r.reloaded)
        this.logger.log({ worker_id: id, msg: 'worker told again to take its token settings (reload)' });
      // fencing: what ran on a lost (or offline) worker goes back to its queue with attempt + 1
      const handedBack = await this.handBack.sweep();
      for (const j of handedBack) {
        this.logger.warn({
          job_id: j.id,
          attempt: j.attempt,
          organization_id: j.organizationId,
          msg: 'job handed back: its worker is gone',
        });
      }
      const ms = performance.now() - started;
      this.metrics.histogram('reaperCycleDuration').observe(ms / 1000);
      this.metrics.counter('workersLost').inc(r.lost.length);
      this.metrics.counter('workersRecovered').inc(r.recovered.length);
      for (const j of handedBack)
        this.metrics.counter('jobsRequeued').inc({ pool: j.pool, reason: 'worker_lost' });
      if (ms > this.env.AGENTFLEET_REAPER_INTERVAL_MS)
        this.logger.warn(`reaper cycle took ${ms.toFixed(0)} ms`);
    } catch (e) {
      this.logger.error(`reaper cycle failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
