import type { WorkerTokenRecord } from './fleet.ports';

/** Public shape of a worker token: never its hash. */
export function workerTokenView(t: WorkerTokenRecord, now: Date) {
  return {
    id: t.id,
    organization_id: t.organizationId,
    name: t.name,
    prefix: t.prefix,
    labels: t.labels,
    capabilities: t.capabilities,
    max_concurrent_tasks: t.maxConcurrentTasks,
    pools: t.pools,
    created_by: t.createdBy,
    expires_at: t.expiresAt?.toISOString() ?? null,
    last_used_at: t.lastUsedAt?.toISOString() ?? null,
    revoked_at: t.revokedAt?.toISOString() ?? null,
    worker_id: t.workerId,
    state: t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt <= now ? 'expired' : 'active',
    created_at: t.createdAt.toISOString(),
  };
}
