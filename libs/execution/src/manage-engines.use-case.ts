import type { CreateEngineInput, EngineRuntimeConfig } from '@agentfleet/contracts';
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
import type { EngineRecord, ExecutionRepositories } from './execution.ports';

export function engineView(e: EngineRecord) {
  const { api_key_sealed, ...config } = e.handlerConfig;
  return {
    id: e.id,
    organization_id: e.organizationId,
    name: e.name,
    provider: e.provider,
    base_url: config.base_url ?? null,
    model: config.model,
    max_tokens: config.max_tokens,
    system_prompt: config.system_prompt ?? null,
    timeout_ms: config.timeout_ms,
    has_api_key: api_key_sealed !== undefined,
    description: e.description,
    is_default: e.isDefault,
    is_active: e.isActive,
    created_at: e.createdAt.toISOString(),
  };
}

/** Execution engines: the LLM settings engine jobs run with. API keys are sealed at rest and never returned. */
export class ManageEnginesUseCase {
  constructor(
    private readonly uow: UnitOfWork<ExecutionRepositories>,
    private readonly secrets: SecretBox,
  ) {}

  async create(principal: Principal, input: CreateEngineInput, ip: string | null) {
    if (input.api_key && !this.secrets.ready) {
      throw new UnavailableError(
        'secrets cannot be stored: the control plane has no AGENTFLEET_SECRET_KEYS',
        'api_key',
      );
    }
    return this.uow.run(async (repos) => {
      const existing = await repos.engines.list(principal.organizationId, { limit: 1000, offset: 0 });
      if (existing.items.some((e) => e.name === input.name))
        throw new ConflictError(`engine ${input.name} already exists`, 'name');
      const e = await repos.engines.create({
        organizationId: principal.organizationId,
        name: input.name,
        type: 'llm',
        provider: input.provider,
        handlerConfig: {
          ...(input.base_url ? { base_url: input.base_url } : {}),
          model: input.model,
          max_tokens: input.max_tokens,
          timeout_ms: input.timeout_ms,
          ...(input.system_prompt ? { system_prompt: input.system_prompt } : {}),
          ...(input.api_key ? { api_key_sealed: this.secrets.seal(input.api_key) } : {}),
        },
        description: input.description ?? null,
        isDefault: input.is_default,
      });
      if (e.isDefault) await repos.engines.clearDefault(principal.organizationId, e.id);
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'execution_engine.created',
        resourceType: 'execution_engine',
        resourceId: e.id,
        details: { name: e.name, provider: e.provider, model: input.model },
      });
      return engineView(e);
    });
  }

  async list(principal: Principal, page: { limit: number; offset: number }) {
    const res = await this.uow.run((repos) => repos.engines.list(principal.organizationId, page));
    return { items: res.items.map(engineView), total: res.total };
  }

  async get(principal: Principal, id: string) {
    const e = await this.uow.run((repos) => repos.engines.findById(principal.organizationId, id));
    if (!e) throw new NotFoundError('execution engine', id);
    return engineView(e);
  }

  async deactivate(principal: Principal, id: string, ip: string | null) {
    return this.uow.run(async (repos) => {
      const e = await repos.engines.deactivate(principal.organizationId, id);
      if (!e) throw new NotFoundError('execution engine', id);
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'execution_engine.deactivated',
        resourceType: 'execution_engine',
        resourceId: id,
      });
      return engineView(e);
    });
  }

  /**
   * A worker about to run an engine job gets the engine's settings with the key opened — only for an
   * engine of its own organization, and only while a job of that organization uses it and is not done.
   */
  async forWorker(worker: WorkerPrincipal, engineId: string, jobId: string): Promise<EngineRuntimeConfig> {
    return this.uow.run(async (repos) => {
      const job = await repos.jobs.findById(worker.organizationId, jobId);
      const e = await repos.engines.findById(worker.organizationId, engineId);
      if (
        !job ||
        job.engineId !== engineId ||
        !e ||
        !e.isActive ||
        !['queued', 'running'].includes(job.status)
      ) {
        throw new NotFoundError('execution engine', engineId);
      }
      const c = e.handlerConfig;
      return {
        provider: e.provider,
        base_url: c.base_url ?? null,
        model: c.model,
        api_key: c.api_key_sealed ? this.secrets.open(c.api_key_sealed) : null,
        max_tokens: c.max_tokens,
        system_prompt: c.system_prompt ?? null,
        timeout_ms: c.timeout_ms,
      };
    });
  }
}
