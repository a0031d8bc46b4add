import type { WorkerScheduling, WorkerStatus } from '@agentfleet/contracts';
import type {
  FleetRepositories,
  Page,
  RegistrationFields,
  WorkerListFilter,
  WorkerRecord,
  WorkerRepository,
  WorkerTokenRecord,
  WorkerTokenRepository,
  WorkerTokenSettings,
} from '@agentfleet/fleet';
import type { EntityManager } from 'typeorm';
import { WorkerEntity, WorkerTokenEntity } from './entities';
import { camelRow, pageOf, plain } from './row-mapping';
import { TypeormAuditLogRepository } from './typeorm-audit.repository';

/** Arbitrary constant: the advisory lock that serialises worker-token provisioning from configuration. */
const TOKEN_PROVISIONING_LOCK_KEY = 0x6166_0003;

class TypeormWorkerTokenRepository implements WorkerTokenRepository {
  constructor(private readonly em: EntityManager) {}
  async create(t: Omit<WorkerTokenRecord, 'id' | 'createdAt' | 'lastUsedAt' | 'revokedAt' | 'workerId'>) {
    const saved = await this.em.save(WorkerTokenEntity, this.em.create(WorkerTokenEntity, t));
    return plain<WorkerTokenRecord>(saved);
  }
  async findByPrefix(prefix: string) {
    const r = await this.em.findOneBy(WorkerTokenEntity, { prefix });
    return r ? plain<WorkerTokenRecord>(r) : undefined;
  }
  async findById(organizationId: string, id: string) {
    const r = await this.em.findOneBy(WorkerTokenEntity, { organizationId, id });
    return r ? plain<WorkerTokenRecord>(r) : undefined;
  }
  async list(organizationId: string, page: Page) {
    return pageOf<WorkerTokenEntity, WorkerTokenRecord>(this.em, WorkerTokenEntity, { organizationId }, page);
  }
  async revoke(organizationId: string, id: string, at: Date) {
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE worker_tokens SET revoked_at = $3
        WHERE id = $1 AND organization_id = $2 AND revoked_at IS NULL RETURNING *`,
      [id, organizationId, at],
    );
    const row = rows[0][0];
    return row ? camelRow<WorkerTokenRecord>(row) : undefined;
  }
  async recordUse(id: string, workerId: string, at: Date) {
    await this.em.update(WorkerTokenEntity, { id }, { lastUsedAt: at, workerId });
  }
  async findByNameAndCreator(organizationId: string, name: string, createdBy: string) {
    const rows = await this.em.findBy(WorkerTokenEntity, { organizationId, name, createdBy });
    return rows.map((r) => plain<WorkerTokenRecord>(r));
  }
  async updateSettings(organizationId: string, id: string, s: WorkerTokenSettings) {
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE worker_tokens
          SET name = $3, labels = $4::jsonb, capabilities = $5::text[], max_concurrent_tasks = $6, pools = $7::text[]
        WHERE id = $1 AND organization_id = $2 AND revoked_at IS NULL RETURNING *`,
      [id, organizationId, s.name, JSON.stringify(s.labels), s.capabilities, s.maxConcurrentTasks, s.pools],
    );
    const row = rows[0][0];
    return row ? camelRow<WorkerTokenRecord>(row) : undefined;
  }
  async lockProvisioning() {
    await this.em.query('SELECT pg_advisory_xact_lock($1)', [TOKEN_PROVISIONING_LOCK_KEY]);
  }
  async deadWithActiveWorkers(at: Date) {
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT t.* FROM worker_tokens t
        WHERE (t.revoked_at IS NOT NULL OR t.expires_at <= $1)
          AND EXISTS (SELECT 1 FROM workers w WHERE w.token_id = t.id AND w.status <> 'offline')`,
      [at],
    );
    return rows.map((r) => camelRow<WorkerTokenRecord>(r));
  }
}

const WORKER_COLUMNS = [
  'organization_id',
  'token_id',
  'instance_id',
  'hostname',
  'version',
  'protocol_version',
  'labels',
  'capabilities',
  'pools',
  'capacity',
  'concurrency',
  'registered_at',
] as const;

class TypeormWorkerRepository implements WorkerRepository {
  constructor(private readonly em: EntityManager) {}

  async upsertRegistration(w: RegistrationFields) {
    const values = [
      w.organizationId,
      w.tokenId,
      w.instanceId,
      w.hostname,
      w.version,
      w.protocolVersion,
      JSON.stringify(w.labels),
      w.capabilities,
      w.pools,
      JSON.stringify(w.capacity),
      w.concurrency,
      w.registeredAt,
    ];
    const placeholders = values.map((_, i) => `$${i + 1}`).join(', ');
    // one statement: concurrent registrations of the same instance converge on one row
    const rows = await this.em.query<Record<string, unknown>[]>(
      `INSERT INTO workers (${WORKER_COLUMNS.join(', ')}, status, last_seen_at)
       VALUES (${placeholders}, 'online', $12)
       ON CONFLICT (token_id, instance_id) DO UPDATE SET
         hostname = EXCLUDED.hostname, version = EXCLUDED.version, protocol_version = EXCLUDED.protocol_version,
         labels = EXCLUDED.labels, capabilities = EXCLUDED.capabilities, pools = EXCLUDED.pools,
         capacity = EXCLUDED.capacity, concurrency = EXCLUDED.concurrency, registered_at = EXCLUDED.registered_at,
         status = 'online', last_seen_at = EXCLUDED.last_seen_at, offline_at = NULL
       RETURNING *`,
      values,
    );
    return camelRow<WorkerRecord>(rows[0]!);
  }

  async findById(organizationId: string, id: string) {
    const r = await this.em.findOneBy(WorkerEntity, { organizationId, id });
    return r ? plain<WorkerRecord>(r) : undefined;
  }

  async list(organizationId: string, filter: WorkerListFilter, page: Page) {
    const qb = this.em
      .createQueryBuilder(WorkerEntity, 'w')
      .where('w.organization_id = :organizationId', { organizationId })
      .orderBy('w.registered_at', 'DESC')
      .addOrderBy('w.id', 'ASC')
      .take(page.limit)
      .skip(page.offset);
    if (filter.status) qb.andWhere('w.status = :status', { status: filter.status });
    if (filter.pool) qb.andWhere(':pool = ANY(w.pools)', { pool: filter.pool });
    if (filter.scheduling) qb.andWhere('w.scheduling = :scheduling', { scheduling: filter.scheduling });
    const [rows, total] = await qb.getManyAndCount();
    return { items: rows.map((r) => plain<WorkerRecord>(r)), total };
  }

  async transition(ids: readonly string[], from: readonly WorkerStatus[], to: WorkerStatus, at: Date) {
    if (!ids.length) return [];
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE workers SET status = $3::varchar,
              lost_at = CASE WHEN $3::varchar = 'lost' THEN $4::timestamptz ELSE lost_at END,
              offline_at = CASE WHEN $3::varchar = 'offline' THEN $4::timestamptz ELSE offline_at END,
              last_seen_at = CASE WHEN $3::varchar = 'online' THEN $4::timestamptz ELSE last_seen_at END
        WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[])
        RETURNING *`,
      [ids, from, to, at],
    );
    return rows[0].map((r) => camelRow<WorkerRecord>(r));
  }

  async setScheduling(organizationId: string, id: string, scheduling: WorkerScheduling) {
    const rows = await this.em.query<[Record<string, unknown>[], number]>(
      `UPDATE workers SET scheduling = $3 WHERE id = $1 AND organization_id = $2 RETURNING *`,
      [id, organizationId, scheduling],
    );
    const row = rows[0][0];
    return row ? camelRow<WorkerRecord>(row) : undefined;
  }

  async lostIds() {
    const rows = await this.em.query<{ id: string }[]>(`SELECT id FROM workers WHERE status = 'lost'`);
    return rows.map((r) => r.id);
  }

  async activeByToken(tokenId: string) {
    const rows = await this.em.query<Record<string, unknown>[]>(
      `SELECT * FROM workers WHERE token_id = $1 AND status <> 'offline'`,
      [tokenId],
    );
    return rows.map((r) => camelRow<WorkerRecord>(r));
  }
  async withStaleSettings(registeredBefore: Date, limit: number) {
    // lists compare as sets; concurrency as registration computes it (the token's, capped by the slots)
    const rows = await this.em.query<{ id: string }[]>(
      `SELECT w.id FROM workers w JOIN worker_tokens t ON t.id = w.token_id
        WHERE w.status = 'online' AND t.revoked_at IS NULL AND w.registered_at < $1
          AND (NOT (w.pools @> t.pools AND t.pools @> w.pools)
            OR NOT (w.capabilities @> t.capabilities AND t.capabilities @> w.capabilities)
            OR w.concurrency <> LEAST(t.max_concurrent_tasks,
                                      COALESCE((w.capacity->>'slots')::int, t.max_concurrent_tasks))
            OR NOT (w.labels @> t.labels))
        ORDER BY w.registered_at LIMIT $2`,
      [registeredBefore, limit],
    );
    return rows.map((r) => r.id);
  }
}

export function fleetRepositories(em: EntityManager): FleetRepositories {
  return {
    workerTokens: new TypeormWorkerTokenRepository(em),
    workers: new TypeormWorkerRepository(em),
    organizations: {
      async idByName(name: string) {
        const rows = await em.query<{ id: string }[]>('SELECT id FROM organizations WHERE name = $1', [name]);
        return rows[0]?.id;
      },
    },
    audit: new TypeormAuditLogRepository(em),
  };
}
