import type { ListWorkersQuery } from '@agentfleet/contracts';
import { NotFoundError, type Principal, type UnitOfWork } from '@agentfleet/domain';
import type {
  FleetLiveness,
  FleetRepositories,
  LiveWorkerState,
  WorkerListFilter,
  WorkerRecord,
} from './fleet.ports';

export function workerView(w: WorkerRecord, live: LiveWorkerState | undefined) {
  return {
    id: w.id,
    organization_id: w.organizationId,
    token_id: w.tokenId,
    instance_id: w.instanceId,
    hostname: w.hostname,
    version: w.version,
    protocol_version: w.protocolVersion,
    labels: w.labels,
    capabilities: w.capabilities,
    pools: w.pools,
    capacity: w.capacity,
    concurrency: w.concurrency,
    status: w.status,
    scheduling: w.scheduling,
    registered_at: w.registeredAt.toISOString(),
    lost_at: w.lostAt?.toISOString() ?? null,
    offline_at: w.offlineAt?.toISOString() ?? null,
    /** From the worker's last heartbeat in Redis; null when it has none (lost, offline, expired). */
    live: live
      ? {
          status: live.status,
          version: live.version,
          running: live.running,
          running_count: live.running.length,
          free_slots: live.freeSlots,
          last_seen: live.lastSeen.toISOString(),
        }
      : null,
    last_seen: live?.lastSeen.toISOString() ?? w.lastSeenAt?.toISOString() ?? null,
  };
}
export type WorkerView = ReturnType<typeof workerView>;

/** Workers of the caller's organization, PostgreSQL's record merged with the live state in Redis. */
export class ViewFleetUseCase {
  constructor(
    private readonly uow: UnitOfWork<FleetRepositories>,
    private readonly liveness: FleetLiveness,
  ) {}

  async list(principal: Principal, q: ListWorkersQuery) {
    const filter: WorkerListFilter = {};
    if (q.status) filter.status = q.status;
    if (q.pool) filter.pool = q.pool;
    if (q.scheduling) filter.scheduling = q.scheduling;
    const res = await this.uow.run((repos) =>
      repos.workers.list(principal.organizationId, filter, { limit: q.limit, offset: q.offset }),
    );
    const live = await this.liveness.readLive(res.items.map((w) => w.id));
    return { items: res.items.map((w) => workerView(w, live.get(w.id))), total: res.total };
  }

  async get(principal: Principal, id: string) {
    const w = await this.uow.run((repos) => repos.workers.findById(principal.organizationId, id));
    if (!w) throw new NotFoundError('worker', id);
    const live = await this.liveness.readLive([id]);
    return workerView(w, live.get(id));
  }
}
