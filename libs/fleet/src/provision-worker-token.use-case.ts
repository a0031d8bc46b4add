import {
  type Clock,
  type CredentialHasher,
  InvalidInputError,
  type UnitOfWork,
  parseCredential,
} from '@agentfleet/domain';
import type { FleetLiveness, FleetRepositories, WorkerTokenRecord, WorkerTokenSettings } from './fleet.ports';
import { stopWorkersOfToken } from './manage-worker-tokens.use-case';

/**
 * `created_by` of the tokens this use case makes, and the actor of its audit entries. Rotation revokes
 * only tokens carrying it, never a token someone made through the API under the same name.
 */
export const PROVISIONED_WORKER_TOKEN_CREATOR = 'system:bootstrap-worker-token';

/** A worker token as configuration describes it (the Helm chart's bootstrap token). */
export interface ProvisionWorkerTokenCommand extends WorkerTokenSettings {
  /** The plaintext `awt_…` token; only its SHA-256 hash is stored, and it is never echoed. */
  token: string;
  /** Name (slug) of the organization that owns the token. */
  organization: string;
}

/** An earlier provisioned token revoked by a rotation; `deferred` when Redis could not be told (the reaper finishes). */
export interface RevokedByRotation {
  token: WorkerTokenRecord;
  workersStopped: number | 'deferred';
}

/** Changed settings, by their API field name. */
export type WorkerTokenChanges = Record<string, { from: unknown; to: unknown }>;

export type ProvisionWorkerTokenResult =
  | { outcome: 'created'; token: WorkerTokenRecord }
  | { outcome: 'rotated'; token: WorkerTokenRecord; revoked: RevokedByRotation[] }
  | { outcome: 'updated'; token: WorkerTokenRecord; changes: WorkerTokenChanges }
  | { outcome: 'unchanged'; token: WorkerTokenRecord }
  /** The token was revoked; it is never revived: the operator must configure a new one. */
  | { outcome: 'revoked'; token: WorkerTokenRecord }
  | { outcome: 'organization_not_found'; organization: string }
  /** The token exists in another organization; a token never moves between organizations. */
  | { outcome: 'other_organization'; token: WorkerTokenRecord }
  /** The token was made through the API: its settings are managed there, not from configuration. */
  | { outcome: 'not_provisioned'; token: WorkerTokenRecord }
  /** Another token already has this token's prefix (prefixes are unique). */
  | { outcome: 'prefix_taken'; prefix: string };

/**
 * Creates or updates, at control-plane start, the worker token that configuration names (the Helm
 * chart's bootstrap token), so that the chart's workers register with no manual step. Idempotent: an
 * unchanged configuration writes nothing. One transaction under an advisory lock, so replicas starting
 * together create one token and one audit entry.
 */
export class ProvisionWorkerTokenUseCase {
  constructor(
    private readonly uow: UnitOfWork<FleetRepositories>,
    private readonly hasher: CredentialHasher,
    private readonly liveness: FleetLiveness,
    private readonly clock: Clock,
  ) {}

  async execute(cmd: ProvisionWorkerTokenCommand): Promise<ProvisionWorkerTokenResult> {
    const parsed = parseCredential(cmd.token, 'awt');
    if (!parsed)
      throw new InvalidInputError(
        'the configured token is not a worker token (awt_<prefix>_<secret>)',
        'token',
      );
    const now = this.clock.now();
    const result = await this.uow.run(async (repos) => {
      // held until commit: a second replica reads only after the first one's writes are visible
      await repos.workerTokens.lockProvisioning();
      const organizationId = await repos.organizations.idByName(cmd.organization);
      if (!organizationId)
        return { outcome: 'organization_not_found' as const, organization: cmd.organization };
      const existing = await repos.workerTokens.findByPrefix(parsed.prefix);
      if (existing) return this.reconcile(repos, existing, organizationId, cmd);
      return this.create(repos, organizationId, parsed.prefix, cmd, now);
    });
    if (result.outcome !== 'rotated') return result;
    // after commit, like DELETE /worker-tokens/{id}: Redis refuses the old token's heartbeats, its workers stop
    const revoked: RevokedByRotation[] = [];
    for (const r of result.revoked) {
      try {
        const stopped = await stopWorkersOfToken(
          this.uow,
          this.liveness,
          r.token,
          now,
          'worker token rotated',
        );
        revoked.push({ token: r.token, workersStopped: stopped.length });
      } catch {
        // the token is revoked in PostgreSQL: registration refuses it, and the reaper's reconciliation
        // (revoked tokens with workers not offline) repeats these steps once Redis answers
        revoked.push({ token: r.token, workersStopped: 'deferred' });
      }
    }
    return { ...result, revoked };
  }

  private async reconcile(
    repos: FleetRepositories,
    existing: WorkerTokenRecord,
    organizationId: string,
    cmd: ProvisionWorkerTokenCommand,
  ): Promise<ProvisionWorkerTokenResult> {
    if (!this.hasher.matches(cmd.token, existing.tokenHash))
      return { outcome: 'prefix_taken', prefix: existing.prefix };
    if (existing.revokedAt) return { outcome: 'revoked', token: existing };
    if (existing.organizationId !== organizationId) return { outcome: 'other_organization', token: existing };
    if (existing.createdBy !== PROVISIONED_WORKER_TOKEN_CREATOR)
      return { outcome: 'not_provisioned', token: existing };
    const changes = settingChanges(existing, cmd);
    if (!Object.keys(changes).length) return { outcome: 'unchanged', token: existing };
    const updated = await repos.workerTokens.updateSettings(organizationId, existing.id, {
      name: cmd.name,
      labels: cmd.labels,
      capabilities: cmd.capabilities,
      maxConcurrentTasks: cmd.maxConcurrentTasks,
      pools: cmd.pools,
    });
    // revoked through the API since it was read (the lock does not cover API calls)
    if (!updated) return { outcome: 'revoked', token: existing };
    await repos.audit.record({
      actor: { organizationId },
      action: 'worker_token.updated',
      resourceType: 'worker_token',
      resourceId: existing.id,
      details: { actor: PROVISIONED_WORKER_TOKEN_CREATOR, changes },
    });
    return { outcome: 'updated', token: updated, changes };
  }

  private async create(
    repos: FleetRepositories,
    organizationId: string,
    prefix: string,
    cmd: ProvisionWorkerTokenCommand,
    now: Date,
  ): Promise<ProvisionWorkerTokenResult> {
    const token = await repos.workerTokens.create({
      organizationId,
      name: cmd.name,
      prefix,
      tokenHash: this.hasher.hash(cmd.token),
      labels: cmd.labels,
      capabilities: cmd.capabilities,
      maxConcurrentTasks: cmd.maxConcurrentTasks,
      pools: cmd.pools,
      createdBy: PROVISIONED_WORKER_TOKEN_CREATOR,
      expiresAt: null,
    });
    await repos.audit.record({
      actor: { organizationId },
      action: 'worker_token.created',
      resourceType: 'worker_token',
      resourceId: token.id,
      details: {
        actor: PROVISIONED_WORKER_TOKEN_CREATOR,
        name: token.name,
        capabilities: token.capabilities,
        pools: token.pools,
      },
    });
    // a new value under the same organization and name is a rotation (the Secret got a new token)
    const earlier = await repos.workerTokens.findByNameAndCreator(
      organizationId,
      cmd.name,
      PROVISIONED_WORKER_TOKEN_CREATOR,
    );
    const revoked: RevokedByRotation[] = [];
    for (const t of earlier) {
      if (t.id === token.id || t.revokedAt) continue;
      const r = await repos.workerTokens.revoke(organizationId, t.id, now);
      if (!r) continue;
      await repos.audit.record({
        actor: { organizationId },
        action: 'worker_token.revoked',
        resourceType: 'worker_token',
        resourceId: t.id,
        details: { actor: PROVISIONED_WORKER_TOKEN_CREATOR, reason: 'rotated', replaced_by: token.id },
      });
      revoked.push({ token: r, workersStopped: 0 });
    }
    return revoked.length ? { outcome: 'rotated', token, revoked } : { outcome: 'created', token };
  }
}

/** Lists and labels compare as sets: the order they are configured in means nothing. */
function settingChanges(t: WorkerTokenRecord, s: WorkerTokenSettings): WorkerTokenChanges {
  const changes: WorkerTokenChanges = {};
  const sameSet = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
  const sameLabels = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
  if (t.name !== s.name) changes['name'] = { from: t.name, to: s.name };
  if (!sameSet(t.capabilities, s.capabilities))
    changes['capabilities'] = { from: t.capabilities, to: s.capabilities };
  if (!sameSet(t.pools, s.pools)) changes['pools'] = { from: t.pools, to: s.pools };
  if (t.maxConcurrentTasks !== s.maxConcurrentTasks)
    changes['max_concurrent_tasks'] = { from: t.maxConcurrentTasks, to: s.maxConcurrentTasks };
  if (!sameLabels(t.labels, s.labels)) changes['labels'] = { from: t.labels, to: s.labels };
  return changes;
}
