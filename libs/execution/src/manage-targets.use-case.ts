import type { CreateTargetInput, UpdateTargetInput } from '@agentfleet/contracts';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  type Principal,
  type UnitOfWork,
  actorOf,
  imageAllowed,
} from '@agentfleet/domain';
import type { ExecutionRepositories, TargetChange, TargetRecord } from './execution.ports';
import { targetView } from './job.view';

/** JSON with object keys sorted: jsonb does not keep the order a value was written in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );
}

/** The given fields only (a partial object's undefined ones would overwrite stored values). */
function given<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Fields a target keeps for life, with why: the value is accepted when it is the stored one, so that a
 * client may send them back unchanged.
 */
const FIXED: readonly [keyof UpdateTargetInput, (t: TargetRecord) => unknown, string][] = [
  ['name', (t) => t.name, 'jobs and metrics carry the name of the target they ran on'],
  ['type', (t) => t.type, 'create a target of the other type'],
  [
    'worker_pool',
    (t) => t.workerPool,
    'jobs queued for the old pool carry this target; create a target in the other pool and deactivate this one',
  ],
  [
    'connection',
    (t) => t.connectionConfig,
    'workers keep a runtime client per target until they restart; create a target with the new connection and deactivate this one',
  ],
];

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

  /**
   * Changes capacity, images, breaker options or is_active. The row is locked first, so concurrent
   * changes of one target apply one after the other (partial capacity/breaker merges lose nothing).
   * Only what differs from the stored target is written and audited; a call that changes nothing
   * writes nothing.
   */
  async update(principal: Principal, id: string, input: UpdateTargetInput, ip: string | null) {
    return this.uow.run(async (repos) => {
      const t = await repos.targets.findByIdForUpdate(principal.organizationId, id);
      if (!t) throw new NotFoundError('execution target', id);
      for (const [field, current, why] of FIXED) {
        const wanted = input[field];
        if (wanted !== undefined && canonical(wanted) !== canonical(current(t)))
          throw new ConflictError(`${field} of a target cannot be changed: ${why}`, field);
      }
      const next: Required<TargetChange> = {
        capacity: input.capacity ? { ...t.capacity, ...given(input.capacity) } : t.capacity,
        allowedImages: input.allowed_images ?? t.allowedImages,
        defaultImage: input.default_image ?? t.defaultImage,
        breakerOptions: input.breaker ? { ...t.breakerOptions, ...given(input.breaker) } : t.breakerOptions,
        isActive: input.is_active ?? t.isActive,
      };
      if (
        (input.default_image !== undefined || input.allowed_images !== undefined) &&
        !imageAllowed(next.defaultImage, next.allowedImages)
      ) {
        throw new InvalidInputError(
          `default image ${next.defaultImage} is not allowed by allowed_images`,
          input.default_image !== undefined ? 'default_image' : 'allowed_images',
        );
      }
      const fields: [keyof TargetChange, string][] = [
        ['capacity', 'capacity'],
        ['allowedImages', 'allowed_images'],
        ['defaultImage', 'default_image'],
        ['breakerOptions', 'breaker'],
        ['isActive', 'is_active'],
      ];
      const change: TargetChange = {};
      const changes: Record<string, { from: unknown; to: unknown }> = {};
      for (const [key, name] of fields) {
        if (canonical(next[key]) === canonical(t[key])) continue;
        Object.assign(change, { [key]: next[key] });
        changes[name] = { from: t[key], to: next[key] };
      }
      if (!Object.keys(changes).length) return targetView(t);
      const updated = await repos.targets.update(principal.organizationId, id, change);
      if (!updated) throw new NotFoundError('execution target', id);
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'execution_target.updated',
        resourceType: 'execution_target',
        resourceId: id,
        details: { name: t.name, pool: t.workerPool, changes },
      });
      return targetView(updated);
    });
  }
}
