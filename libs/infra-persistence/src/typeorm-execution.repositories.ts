import { randomUUID } from 'node:crypto';
import type { ExecutionJobStatus } from '@agentfleet/contracts';
import type {
  EngineRecord,
  EngineRepository,
  ExecutionJobRecord,
  ExecutionJobRepository,
  ExecutionRepositories,
  JobEventRepository,
  JobFilter,
  JobLiveFieldsChange,
  JobPatch,
  JobTransitionChange,
  NewExecutionJob,
  StoredJobEvent,
  TargetChange,
  TargetRecord,
  TargetRepository,
} from '@agentfleet/execution';
import type { EntityManager } from 'typeorm';
import { ExecutionEngineEntity, ExecutionJobEntity, ExecutionTargetEntity } from './entities';
import { camelRow, pageOf, plain } from './row-mapping';
import { preparedQuery } from './prepared-query';
import { TypeormAuditLogRepository } from './typeorm-audit.repository';
import { TypeormSecretRepository } from './typeorm-secret.repository';

/** numeric/real columns come back from pg as strings or floats; records want numbers (cost stays a string). */
function jobRecord(row: Record<string, unknown>): ExecutionJobRecord {
  const j = camelRow<ExecutionJobRecord>(row);
  j.cpu = Number(j.cpu);
  j.progress = Number(j.progress);
  j.peakMemoryMb = j.peakMemoryMb === null ? null : Number(j.peakMemoryMb);
  return j;
}

/** The column of a patch key (camelCase → snake_case). */
function columnOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** SQL type of every patchable column: the element type of the arrays a multi-row statement unnests. */
const PATCH_TYPES: Record<keyof JobPatch, string> = {
  workerId: 'uuid',
  containerId: 'text',
  targetHost: 'text',
  targetId: 'uuid',
  startedAt: 'timestamptz',
  completedAt: 'timestamptz',
  timeoutAt: 'timestamptz',
  exitCode: 'int',
  oomEvidence: 'jsonb',
  peakMemoryMb: 'real',
  error: 'text',
  lastFailureReason: 'text',
  result: 'jsonb',
  progress: 'real',
  memoryLimitMb: 'int',
  retryCount: 'int',
  oomRetried: 'boolean',
  cancelRequestedAt: 'timestamptz',
};

/** The keys a patch sets (undefined = left alone), in a stable order. */
function patchKeys(patch: JobPatch): (keyof JobPatch)[] {
  return (Object.keys(PATCH_TYPES) as (keyof JobPatch)[]).filter((k) => patch[k] !== undefined);
}

/** A patch value as a parameter: JSON columns as JSON text, SQL NULL for null. */
function paramOf(key: keyof JobPatch, v: unknown): unknown {
  return PATCH_TYPES[key] === 'jsonb' && v !== null && v !== undefined ? JSON.stringify(v) : v;
}

type NewJobRow = NewExecutionJob & Pick<ExecutionJobRecord, 'id' | 'status' | 'attempt' | 'queuedAt'>;

/** The columns a new job row is inserted with, and their SQL types (every parameter is cast). */
const NEW_JOB_COLUMNS: readonly [keyof NewJobRow, string][] = [
  ['id', 'uuid'],
  ['organizationId', 'uuid'],
  ['supervisorRunId', 'uuid'],
  ['targetId', 'uuid'],
  ['engineId', 'uuid'],
  ['pool', 'text'],
  ['executionTarget', 'jsonb'],
  ['image', 'text'],
  ['command', 'text[]'],
  ['prompt', 'text'],
  ['env', 'jsonb'],
  ['status', 'text'],
  ['attempt', 'int'],
  ['maxRetries', 'int'],
  ['retryBackoffMs', 'int'],
  ['oomRetryEnabled', 'boolean'],
  ['oomRetryMaxMemoryMb', 'int'],
  ['memoryLimitMb', 'int'],
  ['cpu', 'real'],
  ['pidsLimit', 'int'],
  ['timeoutSeconds', 'int'],
  ['network', 'boolean'],
  ['priority', 'int'],
  ['idempotencyKey', 'text'],
  ['metadata', 'jsonb'],
  ['queuedAt', 'timestamptz'],
];

/**
 * The jobs INSERT of createMany, one array parameter per column of NEW_JOB_COLUMNS (a text[] column as
 * jsonb). ON CONFLICT on the partial unique index: a repeated idempotency key (in an earlier transaction
 * or earlier in this statement) inserts nothing and the first job is found afterwards.
 */
const INSERT_JOBS = (() => {
  const cols = NEW_JOB_COLUMNS.map(([k]) => columnOf(k)).join(', ');
  const arrays = NEW_JOB_COLUMNS.map(([, type], i) => `$${i + 1}::${type === 'text[]' ? 'jsonb' : type}[]`);
  const select = NEW_JOB_COLUMNS.map(([key, type]) =>
    type === 'text[]' ? `ARRAY(SELECT jsonb_array_elements_text(v.${columnOf(key)}))` : `v.${columnOf(key)}`,
  );
  return `INSERT INTO execution_jobs (${cols})
       SELECT ${select.join(', ')}
         FROM unnest(${arrays.join(', ')}) AS v(${cols})
       ON CONFLICT DO NOTHING RETURNING *`;
})();

/** A multi-row UPDATE … FROM unnest() applies one source row per job; two would make the outcome arbitrary. */
function assertOnePerJob(changes: readonly { id: string }[]): void {
  if (new Set(changes.map((c) => c.id)).size !== changes.length)
    throw new Error('at most one change per job in one call');
}

/** camelCase patch keys → SQL assignments with parameters starting at $start. */
function assignments(patch: JobPatch, start: number): { sql: string[]; params: unknown[] } {
  const sql: string[] = [];
  const params: unknown[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    const col = columnOf(k);
    const json = col === 'result' || col === 'oom_evidence';
    params.push(json && v !== null ? JSON.stringify(v) : v);
    sql.push(`${col} = $${start + params.length - 1}${json ? '::jsonb' : ''}`);
  }
  return { sql, params };
}

class TypeormExecutionJobRepository implements ExecutionJobRepository {
  constructor(private readonly em: EntityManager) {}

  async create(job: NewExecutionJob) {
    return (await this.createMany([job]))[0]!;
  }

  async createMany(jobs: readonly NewExecutionJob[]) {
    if (!jobs.length) return [];
    const queuedAt = new Date();
    // ids made here, so that each inserted row is matched to its input without relying on RETURNING order
    const rows: NewJobRow[] = jobs.map((j) => ({
      ...j,
      id: randomUUID(),
      status: 'queued',
      attempt: 1,
      queuedAt,
    }));
    // one array parameter per column, whatever the batch size: the statement's text (and so its parse
    // and plan) stays the same, where a VALUES list of 26 parameters per row made binding the most
    // expensive part of a group commit. A text[] column travels as JSON (arrays of arrays would flatten).
    const params = NEW_JOB_COLUMNS.map(([key, type]) =>
      rows.map((r) => {
        const v = r[key];
        return (type === 'jsonb' || type === 'text[]') && v !== null ? JSON.stringify(v) : v;
      }),
    );
    const inserted = await preparedQuery<Record<string, unknown>[]>(this.em, INSERT_JOBS, params);
    const created = new Map(inserted.map((row) => [row['id'] as string, jobRecord(row)]));
    const missing = rows.filter((r) => !created.has(r.id));
    const existing = new Map<string, ExecutionJobRecord>();
    if (missing.length) {
      const found = await preparedQuery<Record<string, unknown>[]>(
        this.em,
        `SELECT j.* FROM execution_jobs j
           JOIN unnest($1::uuid[], $2::text[]) AS k(organization_id, idempotency_key)
             ON j.organization_id = k.organization_id AND j.idempotency_key = k.idempotency_key`,
        [missing.map((r) => r.organizationId), missing.map((r) => r.idempotencyKey)],
      );
      for (const j of found.map(jobRecord)) existing.set(`${j.organizationId}/${j.idempotencyKey}`, j);
    }
    return rows.map((r) => {
      const job = created.get(r.id);
      if (job) return { job, created: true };
      const first = existing.get(`${r.organizationId}/${r.idempotencyKey}`);
      if (!first) throw new Error(`job ${r.id} was neither inserted nor found by its idempotency key`);
      return { job: first, created: false };
    });
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
    const rows = await preparedQuery<Record<string, unknown>[]>(
      this.em,
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

  async transitionMany(changes: readonly JobTransitionChange[]) {
    assertOnePerJob(changes);
    // one statement per shape (target status, allowed statuses, fields set): a batch of events has a handful
    const shapes = new Map<string, { keys: (keyof JobPatch)[]; changes: JobTransitionChange[] }>();
    for (const c of changes) {
      const keys = patchKeys(c.patch);
      const shape = `${c.to}|${c.from.join(',')}|${keys.join(',')}`;
      const group = shapes.get(shape) ?? { keys, changes: [] };
      group.changes.push(c);
      shapes.set(shape, group);
    }
    const moved: ExecutionJobRecord[] = [];
    for (const { keys, changes: group } of shapes.values()) {
      const cols = keys.map(columnOf);
      const first = group[0]!;
      const params: unknown[] = [first.to, first.from, group.map((c) => c.id), group.map((c) => c.attempt)];
      for (const k of keys) params.push(group.map((c) => paramOf(k, c.patch[k])));
      const arrays = keys.map((k, i) => `, $${i + 5}::${PATCH_TYPES[k]}[]`).join('');
      // the same condition as transition(), row by row: a job whose (status, attempt) moved on is not touched
      // a handful of shapes, so a bounded set of texts
      const rows = await preparedQuery<[Record<string, unknown>[], number]>(
        this.em,
        `UPDATE execution_jobs j SET status = $1${cols.map((c) => `, ${c} = v.${c}`).join('')}
           FROM unnest($3::uuid[], $4::int[]${arrays}) AS v(id, attempt${cols.map((c) => `, ${c}`).join('')})
          WHERE j.id = v.id AND j.attempt = v.attempt AND j.status = ANY($2::text[]) RETURNING j.*`,
        params,
      );
      moved.push(...rows[0].map(jobRecord));
    }
    return moved;
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

  async updateMany(changes: readonly JobLiveFieldsChange[]) {
    if (!changes.length) return;
    assertOnePerJob(changes);
    // the same condition as update(); a change without progress keeps the stored one, missing usage adds 0
    await preparedQuery(
      this.em,
      `UPDATE execution_jobs j SET progress = COALESCE(v.progress, j.progress),
              prompt_tokens = j.prompt_tokens + v.add_prompt, completion_tokens = j.completion_tokens + v.add_completion,
              cost_usd = j.cost_usd + v.add_cost
         FROM unnest($1::uuid[], $2::int[], $3::real[], $4::int[], $5::int[], $6::numeric[])
              AS v(id, attempt, progress, add_prompt, add_completion, add_cost)
        WHERE j.id = v.id AND j.attempt = v.attempt AND j.status IN ('running', 'awaiting_approval', 'queued')`,
      [
        changes.map((c) => c.id),
        changes.map((c) => c.attempt),
        changes.map((c) => c.progress ?? null),
        changes.map((c) => c.addPromptTokens ?? 0),
        changes.map((c) => c.addCompletionTokens ?? 0),
        changes.map((c) => c.addCostUsd ?? 0),
      ],
    );
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

  async queuedBefore(before: Date, after: { queuedAt: Date; id: string } | null, limit: number) {
    // the (status, timeout_at) index narrows to the queued rows. The cursor is a JS Date: ordering and
    // comparing at millisecond precision keeps a row from coming back on the next page.
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT * FROM execution_jobs
        WHERE status = 'queued' AND queued_at < $1
          AND ($2::timestamptz IS NULL OR (date_trunc('milliseconds', queued_at), id) > ($2::timestamptz, $3::uuid))
        ORDER BY date_trunc('milliseconds', queued_at), id LIMIT $4`,
      [before, after?.queuedAt ?? null, after?.id ?? null, limit],
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
  async create(t: Omit<TargetRecord, 'id' | 'createdAt' | 'updatedAt' | 'isActive'>) {
    const saved = await this.em.save(ExecutionTargetEntity, this.em.create(ExecutionTargetEntity, t));
    return plain<TargetRecord>(saved);
  }
  // the reads on the submit and event paths are plain SQL: TypeORM's find builds and maps each query anew
  async findById(organizationId: string, id: string) {
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT * FROM execution_targets WHERE id = $1 AND organization_id = $2`,
      [id, organizationId],
    );
    return rows[0] ? camelRow<TargetRecord>(rows[0]) : undefined;
  }
  async findByIdUnscoped(id: string) {
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT * FROM execution_targets WHERE id = $1`,
      [id],
    );
    return rows[0] ? camelRow<TargetRecord>(rows[0]) : undefined;
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
    const rows = await preparedQuery<Record<string, unknown>[]>(
      this.em,
      `SELECT * FROM execution_targets WHERE organization_id = $1 AND worker_pool = $2 AND is_active
        ORDER BY created_at, id`,
      [organizationId, pool],
    );
    return rows.map((r) => camelRow<TargetRecord>(r));
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
  async findByIdForUpdate(organizationId: string, id: string) {
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT * FROM execution_targets WHERE id = $1 AND organization_id = $2 FOR UPDATE`,
      [id, organizationId],
    );
    return rows[0] ? camelRow<TargetRecord>(rows[0]) : undefined;
  }
  async update(organizationId: string, id: string, change: TargetChange) {
    // COALESCE: a field left out of the change keeps its stored value
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE execution_targets SET capacity = COALESCE($3::jsonb, capacity),
              allowed_images = COALESCE($4::text[], allowed_images),
              default_image = COALESCE($5::varchar, default_image),
              breaker_options = COALESCE($6::jsonb, breaker_options),
              is_active = COALESCE($7::boolean, is_active)
        WHERE id = $1 AND organization_id = $2 RETURNING *`,
      [
        id,
        organizationId,
        change.capacity ? JSON.stringify(change.capacity) : null,
        change.allowedImages ?? null,
        change.defaultImage ?? null,
        change.breakerOptions ? JSON.stringify(change.breakerOptions) : null,
        change.isActive ?? null,
      ],
    );
    const row = rows[0][0];
    return row ? camelRow<TargetRecord>(row) : undefined;
  }
}

class TypeormJobEventRepository implements JobEventRepository {
  constructor(private readonly em: EntityManager) {}
  async insertMany(events: readonly StoredJobEvent[]) {
    if (!events.length) return;
    // one statement with six array parameters, whatever the batch size (no per-row SQL to build);
    // unnest keeps the order, so ids (what the logs API pages by) follow the stream order
    await preparedQuery(
      this.em,
      `INSERT INTO execution_job_events (job_id, organization_id, attempt, stream_id, type, data)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::jsonb[])
       ON CONFLICT DO NOTHING`, // a redelivered stream entry is already stored
      [
        events.map((e) => e.jobId),
        events.map((e) => e.organizationId),
        events.map((e) => e.attempt),
        events.map((e) => e.streamId),
        events.map((e) => e.type),
        events.map((e) => JSON.stringify(e.data)),
      ],
    );
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
    secrets: new TypeormSecretRepository(em),
    events: new TypeormJobEventRepository(em),
    audit: new TypeormAuditLogRepository(em),
  };
}

class TypeormEngineRepository implements EngineRepository {
  constructor(private readonly em: EntityManager) {}
  async create(e: Omit<EngineRecord, 'id' | 'createdAt' | 'isActive'>) {
    const saved = await this.em.save(
      ExecutionEngineEntity,
      this.em.create(ExecutionEngineEntity, e as never),
    );
    return plain<EngineRecord>(saved);
  }
  async findById(organizationId: string, id: string) {
    const r = await this.em.findOneBy(ExecutionEngineEntity, { organizationId, id });
    return r ? plain<EngineRecord>(r) : undefined;
  }
  async findDefault(organizationId: string) {
    const r = await this.em.findOneBy(ExecutionEngineEntity, {
      organizationId,
      isDefault: true,
      isActive: true,
    });
    return r ? plain<EngineRecord>(r) : undefined;
  }
  list(organizationId: string, page: { limit: number; offset: number }) {
    return pageOf<ExecutionEngineEntity, EngineRecord>(
      this.em,
      ExecutionEngineEntity,
      { organizationId },
      page,
    );
  }
  async clearDefault(organizationId: string, exceptId: string) {
    await this.em.query(
      `UPDATE execution_engines SET is_default = false WHERE organization_id = $1 AND id <> $2 AND is_default`,
      [organizationId, exceptId],
    );
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
