import {
  ConflictError,
  NotFoundError,
  type Principal,
  type SchedulingCommand,
  type UnitOfWork,
  actorOf,
  nextScheduling,
} from '@agentfleet/domain';
import type { FleetLiveness, FleetRepositories } from './fleet.ports';
import { workerView } from './view-fleet.use-case';

/** Operator's drain / cordon / uncordon: recorded in PostgreSQL, delivered with the worker's next heartbeat. */
export class ScheduleWorkerUseCase {
  constructor(
    private readonly uow: UnitOfWork<FleetRepositories>,
    private readonly liveness: FleetLiveness,
  ) {}

  async execute(principal: Principal, id: string, command: SchedulingCommand, ip: string | null) {
    const updated = await this.uow.run(async (repos) => {
      const w = await repos.workers.findById(principal.organizationId, id);
      if (!w) throw new NotFoundError('worker', id);
      if (w.status === 'offline' && command !== 'uncordon') {
        throw new ConflictError(`worker ${id} is offline; it takes no work and reads no control messages`);
      }
      const next = nextScheduling(w.scheduling, command);
      const changed = await repos.workers.setScheduling(principal.organizationId, id, next);
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: `worker.${command}`,
        resourceType: 'worker',
        resourceId: id,
        details: { from: w.scheduling, to: next },
      });
      return changed ?? w;
    });
    await this.liveness.sendControl(id, { type: command });
    const live = await this.liveness.readLive([id]);
    return workerView(updated, live.get(id));
  }
}
