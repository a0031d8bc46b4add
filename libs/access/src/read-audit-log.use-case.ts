import type { AuditQuery } from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import type { AuditLogReader, AuditRecord } from './access.ports';

export function auditView(a: AuditRecord) {
  return {
    id: a.id,
    organization_id: a.organizationId,
    user_id: a.userId,
    api_key_id: a.apiKeyId,
    worker_token_id: a.workerTokenId,
    action: a.action,
    resource_type: a.resourceType,
    resource_id: a.resourceId,
    details: a.details,
    ip_address: a.ipAddress,
    created_at: a.createdAt.toISOString(),
  };
}

/** The organization's audit log, newest first. */
export class ReadAuditLogUseCase {
  constructor(private readonly reader: AuditLogReader) {}

  async execute(principal: Principal, q: AuditQuery) {
    const filter: { action?: string; resourceType?: string; resourceId?: string } = {};
    if (q.action) filter.action = q.action;
    if (q.resource_type) filter.resourceType = q.resource_type;
    if (q.resource_id) filter.resourceId = q.resource_id;
    const res = await this.reader.list(principal.organizationId, filter, {
      limit: q.limit,
      offset: q.offset,
    });
    return { items: res.items.map(auditView), total: res.total };
  }
}
