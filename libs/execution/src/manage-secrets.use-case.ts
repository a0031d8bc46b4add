import { type JobSecretEnv, type PutSecretInput, secretRefsOf } from '@agentfleet/contracts';
import {
  ConflictError,
  NotFoundError,
  type Principal,
  type SecretBox,
  UnavailableError,
  type UnitOfWork,
  type WorkerPrincipal,
  actorOf,
} from '@agentfleet/domain';
import type { ExecutionRepositories, SecretRecord } from './execution.ports';

/** Metadata of a secret: what the API shows. The value is never part of it. */
export function secretView(s: SecretRecord) {
  return {
    name: s.name,
    organization_id: s.organizationId,
    description: s.description,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
    created_by: { api_key_id: s.createdByApiKeyId, user_id: s.createdByUserId },
    updated_by: { api_key_id: s.updatedByApiKeyId, user_id: s.updatedByUserId },
  };
}
export type SecretView = ReturnType<typeof secretView>;

/** A job may have its secrets resolved while its current attempt is about to start or runs. */
const RESOLVABLE = ['queued', 'running'];

/**
 * Organization secrets that job env values reference by name. Values are sealed with the SecretBox
 * (AES-256-GCM; after a key rotation the old key still opens what it sealed) and leave the control
 * plane only towards the worker starting a job that references them.
 */
export class ManageSecretsUseCase {
  constructor(
    private readonly uow: UnitOfWork<ExecutionRepositories>,
    private readonly box: SecretBox,
  ) {}

  /** Creates the secret or replaces its value; audited in the same transaction. */
  async put(
    principal: Principal,
    name: string,
    input: PutSecretInput,
    ip: string | null,
  ): Promise<{ secret: SecretView; created: boolean }> {
    if (!this.box.ready) {
      throw new UnavailableError(
        'secrets cannot be stored: the control plane has no AGENTFLEET_SECRET_KEYS',
        'value',
      );
    }
    const valueSealed = this.box.seal(input.value);
    return this.uow.run(async (repos) => {
      const { secret, created } = await repos.secrets.put(principal.organizationId, name, {
        valueSealed,
        ...(input.description !== undefined ? { description: input.description } : {}),
        by: { apiKeyId: principal.apiKeyId, userId: principal.userId },
      });
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: created ? 'secret.created' : 'secret.updated',
        resourceType: 'secret',
        // the name is how the API and job env values address a secret
        resourceId: name,
        details: { name },
      });
      return { secret: secretView(secret), created };
    });
  }

  async list(principal: Principal, page: { limit: number; offset: number }) {
    const res = await this.uow.run((repos) => repos.secrets.list(principal.organizationId, page));
    return { items: res.items.map(secretView), total: res.total };
  }

  async get(principal: Principal, name: string): Promise<SecretView> {
    const s = await this.uow.run((repos) => repos.secrets.findByName(principal.organizationId, name));
    if (!s) throw new NotFoundError('secret', name);
    return secretView(s);
  }

  /** Deletes the secret for good; a job referencing it that has not started yet fails at start. */
  async delete(principal: Principal, name: string, ip: string | null): Promise<SecretView> {
    return this.uow.run(async (repos) => {
      const s = await repos.secrets.delete(principal.organizationId, name);
      if (!s) throw new NotFoundError('secret', name);
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'secret.deleted',
        resourceType: 'secret',
        resourceId: name,
        details: { name },
      });
      return secretView(s);
    });
  }

  /**
   * The opened values of one job's secret references, for the worker starting it: only a job of the
   * worker's organization, in a pool its token serves, whose current attempt is `attempt` and has not
   * ended. A reference whose secret is gone is refused naming the variable, so the worker fails the
   * job with that reason. Audited (names, never values): reading a secret is worth a trace.
   */
  async forWorker(
    worker: WorkerPrincipal,
    pools: readonly string[],
    jobId: string,
    attempt: number,
  ): Promise<JobSecretEnv> {
    return this.uow.run(async (repos) => {
      const job = await repos.jobs.findById(worker.organizationId, jobId);
      if (!job || !pools.includes(job.pool)) throw new NotFoundError('execution job', jobId);
      if (job.attempt !== attempt || !RESOLVABLE.includes(job.status)) {
        throw new ConflictError(
          `attempt ${attempt} of job ${jobId} is not starting (the job is ${job.status} at attempt ${job.attempt})`,
          'attempt',
        );
      }
      const refs = Object.entries(secretRefsOf(job.env));
      const found = new Map(
        (await repos.secrets.findByNames(job.organizationId, [...new Set(refs.map(([, n]) => n))])).map(
          (s) => [s.name, s],
        ),
      );
      const env: Record<string, string> = {};
      for (const [variable, name] of refs) {
        const s = found.get(name);
        if (!s) {
          throw new ConflictError(
            `env.${variable} refers to secret ${name}, which no longer exists`,
            `env.${variable}`,
          );
        }
        try {
          env[variable] = this.box.open(s.valueSealed);
        } catch (e) {
          throw new UnavailableError(
            `env.${variable}: secret ${name} cannot be opened (${e instanceof Error ? e.message : String(e)})`,
            `env.${variable}`,
          );
        }
      }
      if (refs.length) {
        await repos.audit.record({
          actor: actorOf(worker),
          action: 'job.secrets_resolved',
          resourceType: 'execution_job',
          resourceId: jobId,
          details: { attempt, secrets: [...found.keys()].sort(), variables: refs.map(([v]) => v) },
        });
      }
      return { env };
    });
  }
}
