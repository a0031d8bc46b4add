import type { CreateWorkerTokenInput } from '@agentfleet/contracts';
import {
  type Clock,
  type CredentialHasher,
  NotFoundError,
  type Principal,
  type UnitOfWork,
  actorOf,
} from '@agentfleet/domain';
import type { FleetLiveness, FleetRepositories, Page, WorkerRecord, WorkerTokenRecord } from './fleet.ports';
import { moveWorkers } from './move-workers';
import { workerTokenView } from './worker-token.view';

/** Worker tokens of the caller's organization: the plaintext is returned once, at creation. */
export class ManageWorkerTokensUseCase {
  constructor(
    private readonly uow: UnitOfWork<FleetRepositories>,
    private readonly hasher: CredentialHasher,
    private readonly liveness: FleetLiveness,
    private readonly clock: Clock,
  ) {}

  async create(principal: Principal, input: CreateWorkerTokenInput, ip: string | null) {
    const issued = this.hasher.issue('awt');
    const token = await this.uow.run(async (repos) => {
      const t = await repos.workerTokens.create({
        organizationId: principal.organizationId,
        name: input.name,
        prefix: issued.prefix,
        tokenHash: issued.hash,
        labels: input.labels,
        capabilities: input.capabilities,
        maxConcurrentTasks: input.max_concurrent_tasks,
        pools: input.pools,
        createdBy: principal.userId ?? `api_key:${principal.apiKeyId}`,
        expiresAt: input.expires_at ? new Date(input.expires_at) : null,
      });
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'worker_token.created',
        resourceType: 'worker_token',
        resourceId: t.id,
        details: { name: t.name, capabilities: t.capabilities, pools: t.pools },
      });
      return t;
    });
    return { ...workerTokenView(token, this.clock.now()), token: issued.plaintext };
  }

  async list(principal: Principal, page: Page) {
    const res = await this.uow.run((repos) => repos.workerTokens.list(principal.organizationId, page));
    const now = this.clock.now();
    return { items: res.items.map((t) => workerTokenView(t, now)), total: res.total };
  }

  async get(principal: Principal, id: string) {
    const t = await this.uow.run((repos) => repos.workerTokens.findById(principal.organizationId, id));
    if (!t) throw new NotFoundError('worker token', id);
    return workerTokenView(t, this.clock.now());
  }

  /**
   * Revokes the token, tells Redis so that its workers stop at their next heartbeat, then takes the
   * workers offline. Redis is told before the workers are marked offline: if that write fails, the
   * workers stay non-offline in PostgreSQL and the reaper's reconciliation repeats it.
   */
  async revoke(principal: Principal, id: string, ip: string | null) {
    const now = this.clock.now();
    const token = await this.uow.run(async (repos) => {
      const revoked = await repos.workerTokens.revoke(principal.organizationId, id, now);
      if (revoked) {
        await repos.audit.record({
          actor: actorOf(principal, ip),
          action: 'worker_token.revoked',
          resourceType: 'worker_token',
          resourceId: id,
        });
        return revoked;
      }
      const existing = await repos.workerTokens.findById(principal.organizationId, id);
      if (!existing) throw new NotFoundError('worker token', id);
      return existing; // already revoked: idempotent, and the steps below heal a lost Redis write
    });
    await stopWorkersOfToken(this.uow, this.liveness, token, now, 'worker token revoked');
    return workerTokenView(token, now);
  }
}

/** Publishes the token's state, sends `stop` to its workers, then marks them offline. Idempotent. */
export async function stopWorkersOfToken(
  uow: UnitOfWork<FleetRepositories>,
  liveness: FleetLiveness,
  token: WorkerTokenRecord,
  now: Date,
  reason: string,
): Promise<WorkerRecord[]> {
  await liveness.publishTokenState(token.id, {
    revoked: token.revokedAt !== null,
    expiresAt: token.expiresAt,
  });
  const active = await uow.run((repos) => repos.workers.activeByToken(token.id));
  for (const w of active) await liveness.sendControl(w.id, { type: 'stop', reason });
  if (!active.length) return [];
  return uow.run((repos) =>
    moveWorkers(
      repos,
      active.map((w) => w.id),
      'token_revoked',
      now,
      { action: 'worker.stopped', details: { reason } },
    ),
  );
}
