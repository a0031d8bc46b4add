import type { CreateTargetInput } from '@agentfleet/contracts';
import { ConflictError, NotFoundError, type Principal, type UnitOfWork, actorOf } from '@agentfleet/domain';
import type { ExecutionRepositories } from './execution.ports';
import { targetView } from './job.view';

/** Execution targets of the caller's organization. */
export class ManageTargetsUseCase {
  constructor(private readonly uow: UnitOfWork<ExecutionRepositories>) {}

  async create(principal: Principal, input: CreateTargetInput, ip: string | null) {
    return this.uow.run(async (repos) => {
      const existing = await repos.targets.list(principal.organizationId, { limit: 1000, offset: 0 });
      if (existing.items.some((t) => t.name === input.name))
        throw new ConflictError(`target ${input.name} already exists`, 'name');
      const t = await repos.targets.create({
        organizationId: principal.organizationId,
        name: input.name,
        type: input.type,
        connectionConfig: input.connection,
        capacity: input.capacity,
        workerPool: input.worker_pool,
        allowedImages: input.allowed_images,
        defaultImage: input.default_image,
        breakerOptions: input.breaker,
      });
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'execution_target.created',
        resourceType: 'execution_target',
        resourceId: t.id,
        details: { name: t.name, type: t.type, pool: t.workerPool },
      });
      return targetView(t);
    });
  }

  async list(principal: Principal, page: { limit: number; offset: number }) {
    const res = await this.uow.run((repos) => repos.targets.list(principal.organizationId, page));
    return { items: res.items.map(targetView), total: res.total };
  }

  async get(principal: Principal, id: string) {
    const t = await this.uow.run((repos) => repos.targets.findById(principal.organizationId, id));
    if (!t) throw new NotFoundError('execution target', id);
    return targetView(t);
  }

  async deactivate(principal: Principal, id: string, ip: string | null) {
    return this.uow.run(async (repos) => {
      const t = await repos.targets.deactivate(principal.organizationId, id);
      if (!t) throw new NotFoundError('execution target', id);
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'execution_target.deactivated',
        resourceType: 'execution_target',
        resourceId: id,
      });
      return targetView(t);
    });
  }
}
