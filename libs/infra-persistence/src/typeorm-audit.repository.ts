import type { AuditLogReader, AuditRecord, Page, PageResult } from '@agentfleet/access';
import type { AuditEntry, AuditLogWriter } from '@agentfleet/domain';
import type { EntityManager } from 'typeorm';
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
    await this.em.insert(AuditLogEntity, auditRow(e));
  }

  /** One multi-row INSERT: the reaper marks up to a batch of workers lost in one cycle. */
  async recordMany(entries: readonly AuditEntry[]): Promise<void> {
    if (!entries.length) return;
    await this.em.insert(AuditLogEntity, entries.map(auditRow));
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
