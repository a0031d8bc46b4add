import {
  SUPPORTED_WORKER_PROTOCOL_VERSIONS,
  type WorkerRegisterRequest,
  type WorkerRegisterResponse,
} from '@agentfleet/contracts';
import {
  type Clock,
  InvalidInputError,
  type UnitOfWork,
  type WorkerPrincipal,
  actorOf,
  queuesFor,
} from '@agentfleet/domain';
import type { FleetLiveness, FleetRepositories, WorkerTokenRecord } from './fleet.ports';
import type { FleetSettings } from './fleet.settings';

/**
 * A worker presents its token and describes itself; it gets its id, timing and queues. The same
 * (token, instance id) always gets the same worker id back, so a restart does not leave a ghost.
 */
export class RegisterWorkerUseCase {
  constructor(
    private readonly uow: UnitOfWork<FleetRepositories>,
    private readonly liveness: FleetLiveness,
    private readonly settings: FleetSettings,
    private readonly clock: Clock,
  ) {}

  async execute(
    principal: WorkerPrincipal,
    token: WorkerTokenRecord,
    req: WorkerRegisterRequest,
    ip: string | null,
  ): Promise<WorkerRegisterResponse & { scheduling: string }> {
    if (!SUPPORTED_WORKER_PROTOCOL_VERSIONS.includes(req.protocol_version)) {
      throw new InvalidInputError(
        `protocol_version ${req.protocol_version} is not supported by this control plane (supported: ${SUPPORTED_WORKER_PROTOCOL_VERSIONS.join(', ')}); upgrade the worker or the control plane`,
        'protocol_version',
      );
    }
    const concurrency = Math.min(token.maxConcurrentTasks, req.capacity.slots ?? token.maxConcurrentTasks);
    const now = this.clock.now();
    const worker = await this.uow.run(async (repos) => {
      const w = await repos.workers.upsertRegistration({
        organizationId: token.organizationId,
        tokenId: token.id,
        instanceId: req.instance_id,
        hostname: req.hostname,
        version: req.version,
        protocolVersion: req.protocol_version,
        // the token's labels are the operator's and win over what the worker says of itself
        labels: { ...req.labels, ...token.labels },
        capabilities: token.capabilities,
        pools: token.pools,
        capacity: req.capacity,
        concurrency,
        registeredAt: now,
      });
      await repos.workerTokens.recordUse(token.id, w.id, now);
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'worker.registered',
        resourceType: 'worker',
        resourceId: w.id,
        details: { instance_id: req.instance_id, hostname: req.hostname, version: req.version },
      });
      return w;
    });
    // heartbeats refuse to run without this state, so it is written before the worker is answered
    await this.liveness.publishTokenState(token.id, { revoked: false, expiresAt: token.expiresAt });
    await this.liveness.markAlive(worker.id);
    return {
      worker_id: worker.id,
      token_id: token.id,
      organization_id: token.organizationId,
      heartbeat_interval_ms: this.settings.heartbeatIntervalMs,
      grace_period_ms: this.settings.gracePeriodMs,
      concurrency,
      capabilities: token.capabilities,
      pools: token.pools,
      queues: queuesFor(token.capabilities, token.pools),
      token_expires_at: token.expiresAt?.toISOString() ?? null,
      redis_key_prefix: this.settings.redisKeyPrefix,
      scheduling: worker.scheduling,
    };
  }
}
