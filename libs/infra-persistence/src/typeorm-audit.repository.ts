import type { AuditLogReader, AuditRecord, Page, PageResult } from '@agentfleet/access';
import type { AuditEntry, AuditLogWriter } from '@agentfleet/domain';
import type { EntityManager } from 'typeorm';
import { preparedQuery } from './prepared-query';
import { AuditLogEntity } from './entities';
import { pageOf } from './row-mapping';

function auditRow(e: AuditEntry) {
  return {
    organizationId: e.actor.organizationId,
    userId: e.actor.userId ?? null,
    apiKeyId: e.actor.apiKeyId ?? null,
    workerTokenId: e.actor.workerTokenId ?? null,
    action: e.action,
    resourceType: e.resourceType,
    resourceId: e.resourceId,
    details: (e.details ?? {}) as object,
    ipAddress: e.actor.ipAddress ? e.actor.ipAddress.slice(0, 45) : null,
  };
}

export class TypeormAuditLogRepository implements AuditLogWriter, AuditLogReader {
  constructor(private readonly em: EntityManager) {}

  async record(e: AuditEntry): Promise<void> {
    await this.recordMany([e]);
  }

  /**
   * One multi-row INSERT: the reaper marks up to a batch of workers lost in one cycle, a submission
   * batch records one entry per job. Plain SQL with one array per column: TypeORM's insert builder
   * cost more CPU than the statement itself on the submit path.
   */
  async recordMany(entries: readonly AuditEntry[]): Promise<void> {
    if (!entries.length) return;
    const rows = entries.map(auditRow);
    await preparedQuery(
      this.em,
      `INSERT INTO audit_log
              (organization_id, user_id, api_key_id, worker_token_id, action, resource_type, resource_id, details, ip_address)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::text[])`,
      [
        rows.map((r) => r.organizationId),
        rows.map((r) => r.userId),
        rows.map((r) => r.apiKeyId),
        rows.map((r) => r.workerTokenId),
        rows.map((r) => r.action),
        rows.map((r) => r.resourceType),
        rows.map((r) => r.resourceId),
        rows.map((r) => JSON.stringify(r.details)),
        rows.map((r) => r.ipAddress),
      ],
    );
  }

  async list(
    organizationId: string,
    filter: { action?: string; resourceType?: string; resourceId?: string },
    page: Page,
  ): Promise<PageResult<AuditRecord>> {
    return pageOf<AuditLogEntity, AuditRecord>(
      this.em,
      AuditLogEntity,
      { ...filter, organizationId },
      page,
      'DESC',
    );
  }
}
