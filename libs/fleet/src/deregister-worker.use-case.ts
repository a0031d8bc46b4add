import {
  type Clock,
  NotFoundError,
  type UnitOfWork,
  type WorkerPrincipal,
  actorOf,
  livenessTransition,
} from '@agentfleet/domain';
import type { FleetLiveness, FleetRepositories } from './fleet.ports';

/** A worker shutting down (SIGTERM) takes itself offline. Only the token it registered with may do so. */
export class DeregisterWorkerUseCase {
  constructor(
    private readonly uow: UnitOfWork<FleetRepositories>,
    private readonly liveness: FleetLiveness,
    private readonly clock: Clock,
  ) {}

  async execute(principal: WorkerPrincipal, workerId: string, reason: string | undefined, ip: string | null) {
    const { from, to } = livenessTransition('deregister');
    const moved = await this.uow.run(async (repos) => {
      const w = await repos.workers.findById(principal.organizationId, workerId);
      if (!w || w.tokenId !== principal.tokenId) throw new NotFoundError('worker', workerId);
      const changed = await repos.workers.transition([workerId], from, to, this.clock.now());
      if (changed.length) {
        await repos.audit.record({
          actor: actorOf(principal, ip),
          action: 'worker.deregistered',
          resourceType: 'worker',
          resourceId: workerId,
          details: reason ? { reason } : {},
        });
      }
      return changed[0] ?? w;
    });
    await this.liveness.forget(workerId);
    return { worker_id: moved.id, status: moved.status };
  }
}
