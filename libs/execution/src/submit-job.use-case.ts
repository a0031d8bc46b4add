import type { CreateJobInput, ExecutionRunPayload } from '@agentfleet/contracts';
import {
  InvalidInputError,
  type Principal,
  type UnitOfWork,
  actorOf,
  imageAllowed,
} from '@agentfleet/domain';
import type { ExecutionJobRecord, ExecutionRepositories, JobQueue, TargetRecord } from './execution.ports';
import { jobView } from './job.view';

/**
 * The payload of one attempt, built from the job row (the one source of truth) and the pool's active
 * targets: the job's own target first, the others as re-route candidates.
 */
export function runPayload(
  job: ExecutionJobRecord,
  poolTargets: readonly TargetRecord[],
): ExecutionRunPayload {
  const ordered = [...poolTargets].sort(
    (a, b) => Number(b.id === job.targetId) - Number(a.id === job.targetId),
  );
  return {
    v: 1,
    job_id: job.id,
    organization_id: job.organizationId,
    attempt: job.attempt,
    pool: job.pool,
    target_id: job.targetId,
    engine_id: job.engineId,
    targets: ordered.map((t) => ({
      id: t.id,
      name: t.name,
      type: t.type,
      connection: t.connectionConfig,
      breaker: t.breakerOptions,
    })),
    spec: {
      image: job.image,
      command: job.command,
      env: job.prompt ? { ...job.env, AGENTFLEET_PROMPT: job.prompt } : job.env,
      memory_limit_mb: job.memoryLimitMb,
      cpu: job.cpu,
      pids_limit: job.pidsLimit,
      timeout_ms: job.timeoutSeconds * 1000,
      network: job.network,
    },
  };
}

/**
 * Validates a job against its target (pool known, memory within the cap, image allowed), stores it and
 * enqueues its first attempt on the pool's queue. The same idempotency key returns the same job.
 */
export class SubmitJobUseCase {
  constructor(
    private readonly uow: UnitOfWork<ExecutionRepositories>,
    private readonly queue: JobQueue,
  ) {}

  async execute(principal: Principal, input: CreateJobInput, ip: string | null) {
    const { job, created, poolTargets } = await this.uow.run(async (repos) => {
      const target = await this.resolveTarget(repos, principal.organizationId, input);
      const image = input.image ?? target.defaultImage;
      if (!imageAllowed(image, target.allowedImages)) {
        throw new InvalidInputError(`image ${image} is not allowed by target ${target.name}`, 'image');
      }
      if (input.memory_limit_mb > target.capacity.max_memory_mb) {
        throw new InvalidInputError(
          `memory_limit_mb ${input.memory_limit_mb} exceeds the cap of target ${target.name} (${target.capacity.max_memory_mb})`,
          'memory_limit_mb',
        );
      }
      if (input.cpu > target.capacity.max_cpu) {
        throw new InvalidInputError(
          `cpu ${input.cpu} exceeds the cap of target ${target.name} (${target.capacity.max_cpu})`,
          'cpu',
        );
      }
      const engineId = await this.resolveEngine(repos, principal.organizationId, input);
      const res = await repos.jobs.create({
        organizationId: principal.organizationId,
        supervisorRunId: input.supervisor_run_id ?? null,
        targetId: target.id,
        engineId,
        pool: target.workerPool,
        image,
        command: input.command ?? [],
        prompt: input.prompt ?? null,
        env: input.env,
        maxRetries: input.retries.max,
        retryBackoffMs: input.retries.backoff_ms,
        oomRetryEnabled: input.oom_retry.enabled,
        oomRetryMaxMemoryMb: input.oom_retry.max_memory_mb ?? null,
        memoryLimitMb: input.memory_limit_mb,
        cpu: input.cpu,
        pidsLimit: input.pids_limit,
        timeoutSeconds: input.timeout_seconds,
        // an engine job calls its provider's API: it needs a network
        network: input.network || engineId !== null,
        priority: input.priority,
        idempotencyKey: input.idempotency_key ?? null,
        metadata: input.metadata,
        executionTarget: {
          id: target.id,
          name: target.name,
          type: target.type,
          worker_pool: target.workerPool,
        },
      });
      if (res.created) {
        await repos.audit.record({
          actor: actorOf(principal, ip),
          action: 'job.submitted',
          resourceType: 'execution_job',
          resourceId: res.job.id,
          details: { pool: res.job.pool, image: res.job.image, target_id: target.id },
        });
      }
      const poolTargets = await repos.targets.activeForPool(principal.organizationId, target.workerPool);
      return {
        ...res,
        poolTargets: poolTargets.some((t) => t.id === target.id) ? poolTargets : [target, ...poolTargets],
      };
    });
    // enqueued after the commit: a worker never sees a job the database does not have. If this process
    // dies in between, the dispatcher sweep enqueues queued jobs that have no queue entry.
    if (created) await this.queue.enqueue(runPayload(job, poolTargets), { priority: job.priority });
    return { job: jobView(job), created };
  }

  /** The engine of an engine job: the named one, or the organization's default for a bare prompt. */
  private async resolveEngine(repos: ExecutionRepositories, organizationId: string, input: CreateJobInput): Promise<string | null> {
    if (input.engine_id) {
      const e = await repos.engines.findById(organizationId, input.engine_id);
      if (!e || !e.isActive) throw new InvalidInputError(`engine ${input.engine_id} does not exist`, 'engine_id');
      return e.id;
    }
    if (input.prompt && !input.command) {
      const e = await repos.engines.findDefault(organizationId);
      if (!e) throw new InvalidInputError('a prompt needs engine_id (this organization has no default engine)', 'engine_id');
      return e.id;
    }
    return null;
  }

  private async resolveTarget(
    repos: ExecutionRepositories,
    organizationId: string,
    input: CreateJobInput,
  ): Promise<TargetRecord> {
    if (input.target_id) {
      const t = await repos.targets.findById(organizationId, input.target_id);
      if (!t || !t.isActive)
        throw new InvalidInputError(`target ${input.target_id} does not exist`, 'target_id');
      if (input.pool && input.pool !== t.workerPool) {
        throw new InvalidInputError(
          `target ${t.name} serves pool ${t.workerPool}, not ${input.pool}`,
          'pool',
        );
      }
      return t;
    }
    const pool = input.pool ?? 'default';
    const targets = await repos.targets.activeForPool(organizationId, pool);
    const first = targets[0];
    if (!first)
      throw new InvalidInputError(`pool ${pool} has no execution target`, input.pool ? 'pool' : 'target_id');
    // the worker re-routes among the pool's targets when this one's breaker is open
    return first;
  }
}
