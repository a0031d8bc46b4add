import type { ApiKeyRecord } from './access.ports';

/** The public shape of an API key: never its hash. */
export function apiKeyView(k: ApiKeyRecord) {
  return {
    id: k.id,
    organization_id: k.organizationId,
    user_id: k.userId,
    name: k.name,
    prefix: k.prefix,
    role: k.role,
    scopes: k.scopes,
    instance_admin: k.instanceAdmin,
    rate_limit_per_hour: k.rateLimitPerHour,
    expires_at: k.expiresAt?.toISOString() ?? null,
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    is_active: k.isActive,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    created_at: k.createdAt.toISOString(),
  };
}
export type ApiKeyView = ReturnType<typeof apiKeyView>;
