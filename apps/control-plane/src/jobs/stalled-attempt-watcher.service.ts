import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { UnitOfWork } from '@agentfleet/domain';
import { type ExecutionRepositories, HandBackJobsUseCase } from '@agentfleet/execution';
import { StalledAttemptWatcher, bullConnection } from '@agentfleet/infra-queue';
import { CONTROL_PLANE_ENV, type ControlPlaneEnv } from '../env';
import type { Metrics } from '@agentfleet/infra-observability';
import { EXECUTION_UOW, METRICS_REGISTRY } from '../tokens';

const REFRESH_POOLS_MS = 30_000;

/**
 * Fencing for the other way a worker can vanish: BullMQ gave up on an attempt because its lock expired
 * (`maxStalledCount: 0`). The attempt is handed back as attempt + 1. Every replica listens; the
 * conditional update lets exactly one of them re-queue it.
 */
@Injectable()
export class StalledAttemptWatcherService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('stalled-attempts');
  private readonly watcher: StalledAttemptWatcher;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly handBack: HandBackJobsUseCase,
    @Inject(EXECUTION_UOW) private readonly uow: UnitOfWork<ExecutionRepositories>,
    @Inject(CONTROL_PLANE_ENV) env: ControlPlaneEnv,
    @Inject(METRICS_REGISTRY) metrics: Metrics,
  ) {
    this.watcher = new StalledAttemptWatcher(
      { connection: bullConnection(env.AGENTFLEET_REDIS_URL), prefix: `${env.AGENTFLEET_REDIS_PREFIX}bull` },
      (jobId, attempt) => {
        this.handBack.ofStalledAttempt(jobId, attempt).then(
          (j) => {
            if (!j) return; // another replica, or the reaper, handed it back first
            metrics.counter('jobsRequeued').inc({ pool: j.pool, reason: 'lock_expired' });
            this.logger.warn({
              job_id: jobId,
              attempt,
              organization_id: j.organizationId,
              msg: 'attempt stalled (queue lock expired): handed back',
            });
          },
          (e: unknown) =>
            this.logger.error(`handing back stalled ${jobId}: ${e instanceof Error ? e.message : String(e)}`),
        );
      },
    );
  }

  onApplicationBootstrap() {
    const refresh = () =>
      this.uow
        .run((repos) => repos.targets.activePools())
        .then((pools) => this.watcher.watch(pools))
        .catch((e: unknown) =>
          this.logger.warn(`refreshing watched pools: ${e instanceof Error ? e.message : String(e)}`),
        );
    void refresh();
    this.timer = setInterval(() => void refresh(), REFRESH_POOLS_MS);
  }

  async onApplicationShutdown() {
    if (this.timer) clearInterval(this.timer);
    await this.watcher.close();
  }
}
