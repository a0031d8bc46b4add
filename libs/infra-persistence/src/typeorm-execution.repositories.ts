import type { ExecutionJobStatus } from '@agentfleet/contracts';
import type {
  EngineRecord,
  EngineRepository,
  ExecutionJobRecord,
  ExecutionJobRepository,
  ExecutionRepositories,
  JobEventRepository,
  JobFilter,
  JobPatch,
  NewExecutionJob,
  StoredJobEvent,
  TargetRecord,
  TargetRepository,
} from '@agentfleet/execution';
import type { EntityManager } from 'typeorm';
import { ExecutionEngineEntity, ExecutionJobEntity, ExecutionJobEventEntity, ExecutionTargetEntity } from './entities';
import { camelRow, pageOf, plain } from './row-mapping';
import { TypeormAuditLogRepository } from './typeorm-audit.repository';

/** numeric/real columns come back from pg as strings or floats; records want numbers (cost stays a string). */
function jobRecord(row: Record<string, unknown>): ExecutionJobRecord {
  const j = camelRow<ExecutionJobRecord>(row);
  return {
    ...j,
    cpu: Number(j.cpu),
    progress: Number(j.progress),
    peakMemoryMb: j.peakMemoryMb === null ? null : Number(j.peakMemoryMb),
  };
}

/** camelCase patch keys → SQL assignments with parameters starting at $start. */
function assignments(patch: JobPatch, start: number): { sql: string[]; params: unknown[] } {
  const sql: string[] = [];
  const params: unknown[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    const col = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const json = col === 'result' || col === 'oom_evidence';
    params.push(json && v !== null ? JSON.stringify(v) : v);
    sql.push(`${col} = $${start + params.length - 1}${json ? '::jsonb' : ''}`);
  }
  return { sql, params };
}

class TypeormExecutionJobRepository implements ExecutionJobRepository {
  constructor(private readonly em: EntityManager) {}

  async create(job: NewExecutionJob) {
    const values = this.em.create(ExecutionJobEntity, {
      ...job,
      status: 'queued',
      attempt: 1,
      queuedAt: new Date(),
    });
    // ON CONFLICT on the partial unique index: a repeated idempotency key returns the first job
    const res = await this.em
      .createQueryBuilder()
      .insert()
      .into(ExecutionJobEntity)
      .values(values as never)
      .orIgnore()
      .returning('*')
      .execute();
    const row = (res.raw as Record<string, unknown>[])[0];
    if (row) return { job: jobRecord(row), created: true };
    const existing = await this.em.findOneByOrFail(ExecutionJobEntity, {
      organizationId: job.organizationId,
      idempotencyKey: job.idempotencyKey ?? '',
    });
    return { job: plain<ExecutionJobRecord>(existing), created: false };
  }

  async findById(organizationId: string, id: string) {
    const r = await this.em.findOneBy(ExecutionJobEntity, { organizationId, id });
    return r ? jobRecord(r as unknown as Record<string, unknown>) : undefined;
  }

  async findByIdUnscoped(id: string) {
    const r = await this.em.findOneBy(ExecutionJobEntity, { id });
    return r ? jobRecord(r as unknown as Record<string, unknown>) : undefined;
  }

  async findManyUnscoped(ids: readonly string[]) {
    if (!ids.length) return [];
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT * FROM execution_jobs WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return rows.map(jobRecord);
  }

  async list(organizationId: string | null, f: JobFilter, page: { limit: number; offset: number }) {
    const qb = this.em
      .createQueryBuilder(ExecutionJobEntity, 'j')
      .orderBy('j.created_at', 'DESC')
      .addOrderBy('j.id', 'DESC')
      .take(page.limit)
      .skip(page.offset);
    if (organizationId) qb.andWhere('j.organization_id = :organizationId', { organizationId });
    if (f.status) qb.andWhere('j.status = :status', { status: f.status });
    if (f.pool) qb.andWhere('j.pool = :pool', { pool: f.pool });
    if (f.workerId) qb.andWhere('j.worker_id = :workerId', { workerId: f.workerId });
    if (f.targetId) qb.andWhere('j.target_id = :targetId', { targetId: f.targetId });
    if (f.createdAfter) qb.andWhere('j.created_at >= :after', { after: f.createdAfter });
    if (f.createdBefore) qb.andWhere('j.created_at < :before', { before: f.createdBefore });
    const [rows, total] = await qb.getManyAndCount();
    return { items: rows.map((r) => jobRecord(r as unknown as Record<string, unknown>)), total };
  }

  async transition(
    id: string,
    attempt: number,
    from: readonly ExecutionJobStatus[],
    to: ExecutionJobStatus,
    patch: JobPatch,
  ) {
    const a = assignments(patch, 5);
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE execution_jobs SET status = $4${a.sql.length ? ', ' + a.sql.join(', ') : ''}
        WHERE id = $1 AND attempt = $2 AND status = ANY($3::text[]) RETURNING *`,
      [id, attempt, from, to, ...a.params],
    );
    const row = rows[0][0];
    return row ? jobRecord(row) : undefined;
  }

  async requeue(id: string, attempt: number, from: readonly ExecutionJobStatus[], patch: JobPatch) {
    const a = assignments(patch, 4);
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE execution_jobs SET status = 'queued', attempt = attempt + 1, queued_at = now(), started_at = NULL,
              timeout_at = NULL, progress = 0${a.sql.length ? ', ' + a.sql.join(', ') : ''}
        WHERE id = $1 AND attempt = $2 AND status = ANY($3::text[]) RETURNING *`,
      [id, attempt, from, ...a.params],
    );
    const row = rows[0][0];
    return row ? jobRecord(row) : undefined;
  }

  async update(
    id: string,
    attempt: number,
    patch: JobPatch & { addPromptTokens?: number; addCompletionTokens?: number; addCostUsd?: number },
  ) {
    const { addPromptTokens, addCompletionTokens, addCostUsd, ...rest } = patch;
    const a = assignments(rest, 3);
    const extra: string[] = [];
    const params = [...a.params];
    const add = (col: string, v: number | undefined) => {
      if (v === undefined) return;
      params.push(v);
      extra.push(`${col} = ${col} + $${3 + params.length - 1}`);
    };
    add('prompt_tokens', addPromptTokens);
    add('completion_tokens', addCompletionTokens);
    add('cost_usd', addCostUsd);
    const sets = [...a.sql, ...extra];
    if (!sets.length) return false;
    const rows = await this.em.query<[unknown[], number]>(
      `UPDATE execution_jobs SET ${sets.join(', ')}
        WHERE id = $1 AND attempt = $2 AND status IN ('running', 'awaiting_approval', 'queued')`,
      [id, attempt, ...params],
    );
    return rows[1] > 0;
  }

  async activeOnWorkers(workerIds: readonly string[]) {
    if (!workerIds.length) return [];
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT * FROM execution_jobs WHERE worker_id = ANY($1::uuid[]) AND status IN ('running', 'awaiting_approval')`,
      [workerIds],
    );
    return rows.map(jobRecord);
  }

  async activeOnDeadWorkers(limit: number) {
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT j.* FROM execution_jobs j JOIN workers w ON w.id = j.worker_id
        WHERE j.status IN ('running', 'awaiting_approval') AND w.status IN ('lost', 'offline')
        LIMIT $1`,
      [limit],
    );
    return rows.map(jobRecord);
  }

  async markCancelRequested(organizationId: string, id: string, at: Date) {
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE execution_jobs SET cancel_requested_at = COALESCE(cancel_requested_at, $3)
        WHERE id = $1 AND organization_id = $2 RETURNING *`,
      [id, organizationId, at],
    );
    const row = rows[0][0];
    return row ? jobRecord(row) : undefined;
  }
}

class TypeormTargetRepository implements TargetRepository {
  constructor(private readonly em: EntityManager) {}
  async create(t: Omit<TargetRecord, 'id' | 'createdAt' | 'isActive'>) {
    const saved = await this.em.save(ExecutionTargetEntity, this.em.create(ExecutionTargetEntity, t));
    return plain<TargetRecord>(saved);
  }
  async findById(organizationId: string, id: string) {
    const r = await this.em.findOneBy(ExecutionTargetEntity, { organizationId, id });
    return r ? plain<TargetRecord>(r) : undefined;
  }
  async findByIdUnscoped(id: string) {
    const r = await this.em.findOneBy(ExecutionTargetEntity, { id });
    return r ? plain<TargetRecord>(r) : undefined;
  }
  list(organizationId: string, page: { limit: number; offset: number }) {
    return pageOf<ExecutionTargetEntity, TargetRecord>(
      this.em,
      ExecutionTargetEntity,
      { organizationId },
      page,
    );
  }
  async activeForPool(organizationId: string, pool: string) {
    const rows = await this.em.find(ExecutionTargetEntity, {
      where: { organizationId, workerPool: pool, isActive: true },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
    return rows.map((r) => plain<TargetRecord>(r));
  }
  async activePools() {
    const rows = await this.em.query<{ worker_pool: string }[]>(
      `SELECT DISTINCT worker_pool FROM execution_targets WHERE is_active ORDER BY worker_pool`,
    );
    return rows.map((r) => r.worker_pool);
  }
  async deactivate(organizationId: string, id: string) {
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE execution_targets SET is_active = false WHERE id = $1 AND organization_id = $2 RETURNING *`,
      [id, organizationId],
    );
    const row = rows[0][0];
    return row ? camelRow<TargetRecord>(row) : undefined;
  }
}

class TypeormJobEventRepository implements JobEventRepository {
  constructor(private readonly em: EntityManager) {}
  async insertMany(events: readonly StoredJobEvent[]) {
    if (!events.length) return;
    await this.em
      .createQueryBuilder()
      .insert()
      .into(ExecutionJobEventEntity)
      .values(
        events.map((e) => ({
          jobId: e.jobId,
          organizationId: e.organizationId,
          attempt: e.attempt,
          streamId: e.streamId,
          type: e.type,
          data: e.data,
        })) as never,
      )
      .orIgnore() // a redelivered stream entry is already stored
      .execute();
  }
  async list(
    organizationId: string,
    jobId: string,
    afterStreamId: string | null,
    limit: number,
    types?: readonly string[],
  ) {
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT * FROM execution_job_events
        WHERE organization_id = $1 AND job_id = $2 AND ($3::text IS NULL OR id > (SELECT COALESCE(MAX(id), 0) FROM execution_job_events WHERE job_id = $2 AND stream_id = $3))
          AND ($5::text[] IS NULL OR type = ANY($5::text[]))
        ORDER BY id ASC LIMIT $4`,
      [organizationId, jobId, afterStreamId, limit, types ?? null],
    );
    return rows.map((r) => {
      const e = camelRow<StoredJobEvent & { id: string }>(r);
      return {
        streamId: e.streamId,
        jobId: e.jobId,
        organizationId: e.organizationId,
        attempt: e.attempt,
        type: e.type,
        data: e.data,
      };
    });
  }
}

export function executionRepositories(em: EntityManager): ExecutionRepositories {
  return {
    jobs: new TypeormExecutionJobRepository(em),
    targets: new TypeormTargetRepository(em),
    engines: new TypeormEngineRepository(em),
    events: new TypeormJobEventRepository(em),
    audit: new TypeormAuditLogRepository(em),
  };
}

class TypeormEngineRepository implements EngineRepository {
  constructor(private readonly em: EntityManager) {}
  async create(e: Omit<EngineRecord, 'id' | 'createdAt' | 'isActive'>) {
    const saved = await this.em.save(ExecutionEngineEntity, this.em.create(ExecutionEngineEntity, e as never));
    return plain<EngineRecord>(saved);
  }
  async findById(organizationId: string, id: string) {
    const r = await this.em.findOneBy(ExecutionEngineEntity, { organizationId, id });
    return r ? plain<EngineRecord>(r) : undefined;
  }
  async findDefault(organizationId: string) {
    const r = await this.em.findOneBy(ExecutionEngineEntity, { organizationId, isDefault: true, isActive: true });
    return r ? plain<EngineRecord>(r) : undefined;
  }
  list(organizationId: string, page: { limit: number; offset: number }) {
    return pageOf<ExecutionEngineEntity, EngineRecord>(this.em, ExecutionEngineEntity, { organizationId }, page);
  }
  async clearDefault(organizationId: string, exceptId: string) {
    await this.em.query(`UPDATE execution_engines SET is_default = false WHERE organization_id = $1 AND id <> $2 AND is_default`, [
      organizationId,
      exceptId,
    ]);
  }
  async deactivate(organizationId: string, id: string) {
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE execution_engines SET is_active = false, is_default = false WHERE id = $1 AND organization_id = $2 RETURNING *`,
      [id, organizationId],
    );
    const row = rows[0][0];
    return row ? camelRow<EngineRecord>(row) : undefined;
  }
}
