import type { CreateWorkerTokenInput, UpdateWorkerTokenInput } from '@agentfleet/contracts';
import {
  type Clock,
  ConflictError,
  type CredentialHasher,
  NotFoundError,
  type Principal,
  type UnitOfWork,
  actorOf,
} from '@agentfleet/domain';
import type {
  FleetLiveness,
  FleetRepositories,
  Page,
  WorkerRecord,
  WorkerTokenRecord,
  WorkerTokenSettings,
} from './fleet.ports';
import { moveWorkers } from './move-workers';
import { PROVISIONED_WORKER_TOKEN_CREATOR } from './provision-worker-token.use-case';
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
   * Changes the settings of a live token; only the fields given change. Workers take a token's settings
   * when they register, so after the commit each of its running workers is sent `reload`: it registers
   * again with its next heartbeat and its queues and concurrency follow (running jobs go on). A revoked
   * token is a conflict; so is a token provisioned from configuration, whose settings the next
   * control-plane start would put back. A call that changes nothing writes nothing.
   */
  async update(principal: Principal, id: string, input: UpdateWorkerTokenInput, ip: string | null) {
    const now = this.clock.now();
    let reload = false;
    const token = await this.uow.run(async (repos) => {
      // every writer of token settings takes this lock (held until commit): two partial changes of one
      // token apply one after the other, each on the other's result
      await repos.workerTokens.lockProvisioning();
      const t = await repos.workerTokens.findById(principal.organizationId, id);
      if (!t) throw new NotFoundError('worker token', id);
      if (t.revokedAt) throw new ConflictError(`worker token ${id} is revoked; create a new one`);
      if (t.createdBy === PROVISIONED_WORKER_TOKEN_CREATOR)
        throw new ConflictError(
          `worker token ${id} is provisioned from configuration (the bootstrap worker token); change it there`,
        );
      const next: WorkerTokenSettings = {
        name: input.name ?? t.name,
        labels: input.labels ?? t.labels,
        capabilities: input.capabilities ?? t.capabilities,
        maxConcurrentTasks: input.max_concurrent_tasks ?? t.maxConcurrentTasks,
        pools: input.pools ?? t.pools,
      };
      const changes = settingChanges(t, next);
      if (!Object.keys(changes).length) return t;
      reload = Object.keys(changes).some((k) => k !== 'name');
      // conditional on the token not being revoked: a revocation that commits first wins
      const updated = await repos.workerTokens.updateSettings(principal.organizationId, id, next);
      if (!updated) throw new ConflictError(`worker token ${id} is revoked; create a new one`);
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'worker_token.updated',
        resourceType: 'worker_token',
        resourceId: id,
        details: { changes },
      });
      return updated;
    });
    if (reload) await reloadWorkersOfToken(this.uow, this.liveness, token.id);
    return workerTokenView(token, now);
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

/**
 * Tells the token's running workers to register again (taking its settings). The change is committed
 * already: if Redis cannot be told now, the reaper finds the workers whose settings differ from their
 * token's and tells them (ReapLostWorkersUseCase), so the error is not the caller's.
 */
async function reloadWorkersOfToken(
  uow: UnitOfWork<FleetRepositories>,
  liveness: FleetLiveness,
  tokenId: string,
): Promise<void> {
  try {
    const active = await uow.run((repos) => repos.workers.activeByToken(tokenId));
    await Promise.all(active.map((w) => liveness.sendControl(w.id, { type: 'reload' })));
  } catch {
    // repaired by the reaper
  }
}

/** Changed settings by API field name; lists compare as sets (their order means nothing). */
function settingChanges(
  t: WorkerTokenSettings,
  next: WorkerTokenSettings,
): Record<string, { from: unknown; to: unknown }> {
  const sameSet = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
  const sameLabels = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  if (t.name !== next.name) changes['name'] = { from: t.name, to: next.name };
  if (!sameSet(t.capabilities, next.capabilities))
    changes['capabilities'] = { from: t.capabilities, to: next.capabilities };
  if (t.maxConcurrentTasks !== next.maxConcurrentTasks)
    changes['max_concurrent_tasks'] = { from: t.maxConcurrentTasks, to: next.maxConcurrentTasks };
  if (!sameSet(t.pools, next.pools)) changes['pools'] = { from: t.pools, to: next.pools };
  if (!sameLabels(t.labels, next.labels)) changes['labels'] = { from: t.labels, to: next.labels };
  return changes;
}
