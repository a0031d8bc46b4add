import {
  type CreateJobInput,
  type ExecutionRunPayload,
  plainEnvOf,
  secretRefsOf,
} from '@agentfleet/contracts';
import {
  Batcher,
  DomainError,
  ForbiddenError,
  InvalidInputError,
  type Principal,
  type UnitOfWork,
  actorOf,
  imageAllowed,
} from '@agentfleet/domain';
import type {
  EngineRepository,
  ExecutionJobRecord,
  ExecutionRepositories,
  JobQueue,
  NewExecutionJob,
  SecretRepository,
  TargetRecord,
  TargetRepository,
} from './execution.ports';
import { type JobView, jobView } from './job.view';

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** The error of the i-th job of a batch submission: the same kind, its field prefixed with `jobs.i.`. */
function atIndex(e: DomainError, i: number): DomainError {
  const field = `jobs.${i}${e.field ? `.${e.field}` : ''}`;
  if (e instanceof InvalidInputError) return new InvalidInputError(`jobs.${i}: ${e.message}`, field);
  if (e instanceof ForbiddenError) return new ForbiddenError(`jobs.${i}: ${e.message}`, field);
  return e;
}

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
  // only plain values travel in the queue; a secret reference goes as its name, resolved at start
  const env = plainEnvOf(job.env);
  const secretEnv = secretRefsOf(job.env);
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
      breaker: { ...t.breakerOptions, revision: t.updatedAt.getTime() },
      max_concurrent: t.capacity.max_concurrent,
    })),
    spec: {
      image: job.image,
      command: job.command,
      env: job.prompt ? { ...env, AGENTFLEET_PROMPT: job.prompt } : env,
      ...(Object.keys(secretEnv).length ? { secret_env: secretEnv } : {}),
      memory_limit_mb: job.memoryLimitMb,
      cpu: job.cpu,
      pids_limit: job.pidsLimit,
      timeout_ms: job.timeoutSeconds * 1000,
      network: job.network,
    },
  };
}

interface Submission {
  principal: Principal;
  input: CreateJobInput;
  ip: string | null;
}

/** A submission that passed validation, ready to insert. */
interface Prepared {
  submission: Submission;
  target: TargetRecord;
  job: NewExecutionJob;
  poolTargets: TargetRecord[];
}

/** A stored job (or the existing one of a repeated idempotency key) and the targets of its payload. */
interface Accepted {
  job: ExecutionJobRecord;
  created: boolean;
  poolTargets: TargetRecord[];
}

export interface Submitted {
  job: JobView;
  created: boolean;
  /** Stored but not enqueued (Redis away): the dispatcher sweep enqueues it. */
  enqueueError?: string;
}

/** What validation reads, memoised for one batch: its submissions mostly share an organization and a pool. */
type Reads = {
  targets: Pick<TargetRepository, 'findById' | 'activeForPool'>;
  engines: Pick<EngineRepository, 'findById' | 'findDefault'>;
  secrets: Pick<SecretRepository, 'existingNames'>;
};

function batchReads(repos: ExecutionRepositories): Reads {
  const memo = <A extends string[], R>(fn: (...a: A) => Promise<R>) => {
    const seen = new Map<string, Promise<R>>();
    return (...a: A) => {
      const key = a.join('/');
      let r = seen.get(key);
      if (!r) {
        r = fn(...a);
        seen.set(key, r);
      }
      return r;
    };
  };
  const secretNames = memo((org: string, csv: string) => repos.secrets.existingNames(org, csv.split(',')));
  return {
    targets: {
      findById: memo((org: string, id: string) => repos.targets.findById(org, id)),
      activeForPool: memo((org: string, pool: string) => repos.targets.activeForPool(org, pool)),
    },
    engines: {
      findById: memo((org: string, id: string) => repos.engines.findById(org, id)),
      findDefault: memo((org: string) => repos.engines.findDefault(org)),
    },
    secrets: {
      // keyed by the sorted names: submissions of one batch usually reference the same secrets
      existingNames: (org: string, names: readonly string[]) => secretNames(org, [...names].sort().join(',')),
    },
  };
}

/**
 * At most this many submissions in one transaction, and one transaction at a time: what arrives while
 * it is open goes in the next. In the execution benchmark two at a time halved the batches (p50 2
 * jobs instead of 15) and cost more PostgreSQL and control-plane CPU per job, for no more throughput.
 */
const GROUP_COMMIT = { maxBatch: 128, concurrency: 1 };

/**
 * Validates a job against its target (pool known, memory within the cap, image allowed), stores it and
 * enqueues its first attempt on the pool's queue. The same idempotency key returns the same job.
 *
 * Concurrent submissions are written by group commit: the ones that arrive while a transaction is
 * open go together in the next — one multi-row INSERT for their jobs and one for their audit entries
 * instead of a transaction each — so PostgreSQL's per-statement and per-commit costs are shared under
 * load, while a lone submission is written at once. A submission that fails validation fails alone;
 * if PostgreSQL refuses the batch, its submissions are retried one transaction each so that only the
 * faulty one fails.
 */
export class SubmitJobUseCase {
  private readonly commits = new Batcher<Submission, Submitted>(
    (items) => this.writeBatch(items),
    GROUP_COMMIT,
  );

  constructor(
    private readonly uow: UnitOfWork<ExecutionRepositories>,
    private readonly queue: JobQueue,
  ) {}

  execute(principal: Principal, input: CreateJobInput, ip: string | null): Promise<Submitted> {
    return this.commits.submit({ principal, input, ip });
  }

  /**
   * Several jobs of one caller, all or none: they are validated and stored in one transaction, and the
   * first one refused (or an idempotency key given twice) fails the whole request, named `jobs.N.field`,
   * with nothing stored or enqueued. A key already used returns its existing job (`created: false`).
   */
  async executeMany(principal: Principal, inputs: CreateJobInput[], ip: string | null): Promise<Submitted[]> {
    const seen = new Map<string, number>();
    inputs.forEach((input, i) => {
      const key = input.idempotency_key;
      if (key === undefined) return;
      const first = seen.get(key);
      if (first !== undefined)
        throw new InvalidInputError(
          `jobs.${i}.idempotency_key: the same key as jobs.${first}`,
          `jobs.${i}.idempotency_key`,
        );
      seen.set(key, i);
    });
    const accepted = await this.store(
      inputs.map((input) => ({ principal, input, ip })),
      { allOrNone: true },
    );
    return this.enqueueAccepted(accepted) as Promise<Submitted[]>;
  }

  private async writeBatch(items: Submission[]): Promise<(Submitted | Error)[]> {
    let accepted: (Accepted | Error)[];
    try {
      accepted = await this.store(items);
    } catch (e) {
      if (items.length === 1) throw e;
      // each alone, so that only a faulty one fails; at once, so that when the database itself is away
      // the batch fails in one connection timeout rather than one per submission
      accepted = await Promise.all(
        items.map((it) =>
          this.store([it]).then(
            (r) => r[0]!,
            (err: unknown) => asError(err),
          ),
        ),
      );
    }
    return this.enqueueAccepted(accepted);
  }

  private async enqueueAccepted(accepted: (Accepted | Error)[]): Promise<(Submitted | Error)[]> {
    // enqueued after the commit: a worker never sees a job the database does not have. Once committed
    // the job is accepted: if the enqueue fails (Redis away) or this process dies in between, the
    // dispatcher sweep enqueues it — failing the request would make the caller submit it twice.
    // The batch's new jobs go in one round trip per pool.
    const created = accepted.filter((a): a is Accepted => !(a instanceof Error) && a.created);
    let enqueueError: string | undefined;
    if (created.length) {
      try {
        await this.queue.enqueueMany(
          created.map((a) => ({ payload: runPayload(a.job, a.poolTargets), priority: a.job.priority })),
        );
      } catch (e) {
        enqueueError = asError(e).message;
      }
    }
    return accepted.map((a): Submitted | Error => {
      if (a instanceof Error) return a;
      const failed = a.created && enqueueError !== undefined;
      return { job: jobView(a.job), created: a.created, ...(failed ? { enqueueError } : {}) };
    });
  }

  /**
   * One transaction for the batch; a submission refused by validation is an Error in its place, or,
   * with `allOrNone`, rolls the transaction back and is thrown naming its index (`jobs.N.field`).
   */
  private store(items: Submission[], o: { allOrNone?: boolean } = {}): Promise<(Accepted | Error)[]> {
    return this.uow.run(async (repos) => {
      const reads = batchReads(repos);
      const prepared: (Prepared | Error)[] = [];
      for (const [i, it] of items.entries()) {
        try {
          prepared.push(await this.prepare(reads, it));
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          if (o.allOrNone) throw atIndex(e, i);
          prepared.push(e);
        }
      }
      const valid = prepared.filter((p): p is Prepared => !(p instanceof Error));
      const stored = await repos.jobs.createMany(valid.map((p) => p.job));
      await repos.audit.recordMany(
        stored.flatMap(({ job, created }, i) => {
          if (!created) return [];
          const { submission, target } = valid[i]!;
          return [
            {
              actor: actorOf(submission.principal, submission.ip),
              action: 'job.submitted',
              resourceType: 'execution_job',
              resourceId: job.id,
              details: { pool: job.pool, image: job.image, target_id: target.id },
            },
          ];
        }),
      );
      let next = 0;
      return prepared.map((p) => {
        if (p instanceof Error) return p;
        const s = stored[next++]!;
        return { job: s.job, created: s.created, poolTargets: p.poolTargets };
      });
    });
  }

  private async prepare(reads: Reads, submission: Submission): Promise<Prepared> {
    const { principal, input } = submission;
    const { target, poolTargets: known } = await this.resolveTarget(reads, principal.organizationId, input);
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
    const engineId = await this.resolveEngine(reads, principal.organizationId, input);
    await this.checkSecretRefs(reads, principal, input);
    // read once when the pool chose the target; within this transaction the list is the same
    const poolTargets =
      known ?? (await reads.targets.activeForPool(principal.organizationId, target.workerPool));
    return {
      submission,
      target,
      poolTargets: poolTargets.some((t) => t.id === target.id) ? poolTargets : [target, ...poolTargets],
      job: {
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
      },
    };
  }

  /**
   * Every secret a job's env references must exist in the caller's organization (another
   * organization's secret of the same name does not count), and referencing secrets takes the
   * secrets:read scope: the job's code sees their values.
   */
  private async checkSecretRefs(repos: Reads, principal: Principal, input: CreateJobInput): Promise<void> {
    const refs = Object.entries(secretRefsOf(input.env));
    const first = refs[0];
    if (!first) return;
    if (!principal.scopes.includes('secrets:read')) {
      throw new ForbiddenError(`referencing secrets in env takes the secrets:read scope`, `env.${first[0]}`);
    }
    const existing = new Set(
      await repos.secrets.existingNames(principal.organizationId, [...new Set(refs.map(([, n]) => n))]),
    );
    const missing = refs.find(([, name]) => !existing.has(name));
    if (missing) {
      throw new InvalidInputError(
        `env.${missing[0]} refers to secret ${missing[1]}, which does not exist`,
        `env.${missing[0]}`,
      );
    }
  }

  /** The engine of an engine job: the named one, or the organization's default for a bare prompt. */
  private async resolveEngine(
    repos: Reads,
    organizationId: string,
    input: CreateJobInput,
  ): Promise<string | null> {
    if (input.engine_id) {
      const e = await repos.engines.findById(organizationId, input.engine_id);
      if (!e || !e.isActive)
        throw new InvalidInputError(`engine ${input.engine_id} does not exist`, 'engine_id');
      return e.id;
    }
    if (input.prompt && !input.command) {
      const e = await repos.engines.findDefault(organizationId);
      if (!e)
        throw new InvalidInputError(
          'a prompt needs engine_id (this organization has no default engine)',
          'engine_id',
        );
      return e.id;
    }
    return null;
  }

  private async resolveTarget(
    repos: Reads,
    organizationId: string,
    input: CreateJobInput,
  ): Promise<{ target: TargetRecord; poolTargets?: TargetRecord[] }> {
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
      return { target: t };
    }
    const pool = input.pool ?? 'default';
    const targets = await repos.targets.activeForPool(organizationId, pool);
    const first = targets[0];
    if (!first)
      throw new InvalidInputError(`pool ${pool} has no execution target`, input.pool ? 'pool' : 'target_id');
    // the worker re-routes among the pool's targets when this one's breaker is open
    return { target: first, poolTargets: targets };
  }
}
