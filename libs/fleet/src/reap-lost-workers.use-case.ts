import type { UnitOfWork } from '@agentfleet/domain';
import type { FleetLiveness, FleetRepositories, WorkerRecord } from './fleet.ports';
import { stopWorkersOfToken } from './manage-worker-tokens.use-case';
import { moveWorkers } from './move-workers';
import type { FleetSettings } from './fleet.settings';

export interface ReapResult {
  lost: WorkerRecord[];
  recovered: WorkerRecord[];
  stopped: WorkerRecord[];
  /** Workers told to register again: their token changed and they missed the `reload`. */
  reloaded: string[];
}

/** Heartbeat intervals a worker has to take a token change before the reaper tells it again. */
const RELOAD_AFTER_INTERVALS = 3;

/**
 * One reaper cycle, run only by the elected leader. Every step is idempotent: PostgreSQL is changed
 * first with conditional updates, Redis is cleaned after, so a crash in between is repaired next cycle.
 */
export class ReapLostWorkersUseCase {
  constructor(
    private readonly uow: UnitOfWork<FleetRepositories>,
    private readonly liveness: FleetLiveness,
    private readonly settings: FleetSettings,
    private readonly batchSize = 1000,
  ) {}

  async execute(): Promise<ReapResult> {
    // Redis' clock for both the heartbeats and the cutoff: worker and control-plane clocks may differ
    const now = await this.liveness.now();
    const cutoff = new Date(now.getTime() - this.settings.gracePeriodMs);
    const lost = await this.markLost(now, cutoff);
    const recovered = await this.markRecovered(now, cutoff);
    const stopped = await this.stopWorkersOfDeadTokens(now);
    const reloaded = await this.reloadStaleSettings(now);
    return { lost, recovered, stopped, reloaded };
  }

  /**
   * Repeats a token change's `reload` for workers still running with the old settings (Redis was away
   * when the change was made, or the control plane died in between). Only workers registered a few
   * heartbeats ago: one that just registered, or was just told, has time to act first.
   */
  private async reloadStaleSettings(now: Date): Promise<string[]> {
    const before = new Date(now.getTime() - RELOAD_AFTER_INTERVALS * this.settings.heartbeatIntervalMs);
    const ids = await this.uow.run((repos) => repos.workers.withStaleSettings(before, this.batchSize));
    await Promise.all(ids.map((id) => this.liveness.sendControl(id, { type: 'reload' })));
    return ids;
  }

  private async markLost(now: Date, cutoff: Date): Promise<WorkerRecord[]> {
    const stale = await this.liveness.staleSince(cutoff, this.batchSize);
    if (!stale.length) return [];
    // one statement per step for the whole batch: a zone outage can lose hundreds of workers in one cycle
    const lost = await this.uow.run((repos) =>
      moveWorkers(repos, stale, 'grace_exceeded', now, {
        action: 'worker.lost',
        details: { grace_period_ms: this.settings.gracePeriodMs },
      }),
    );
    await this.liveness.forgetStale(stale, cutoff);
    return lost;
  }

  /** A lost worker whose heartbeat came back (network blip, long GC pause) is online again. */
  private async markRecovered(now: Date, cutoff: Date): Promise<WorkerRecord[]> {
    const lostIds = await this.uow.run((repos) => repos.workers.lostIds());
    if (!lostIds.length) return [];
    const beats = await this.liveness.lastBeats(lostIds);
    const back = lostIds.filter((id) => (beats.get(id)?.getTime() ?? 0) > cutoff.getTime());
    if (!back.length) return [];
    return this.uow.run((repos) =>
      moveWorkers(repos, back, 'heartbeat', now, { action: 'worker.recovered' }),
    );
  }

  /** Repeats what a revocation told Redis (in case that write was lost) and enforces token expiry. */
  private async stopWorkersOfDeadTokens(now: Date): Promise<WorkerRecord[]> {
    const tokens = await this.uow.run((repos) => repos.workerTokens.deadWithActiveWorkers(now));
    const stopped: WorkerRecord[] = [];
    for (const token of tokens) {
      const reason = token.revokedAt ? 'worker token revoked' : 'worker token expired';
      stopped.push(...(await stopWorkersOfToken(this.uow, this.liveness, token, now, reason)));
    }
    return stopped;
  }
}
