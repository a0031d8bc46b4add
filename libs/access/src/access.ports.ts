import type { RoleName, Scope } from '@agentfleet/contracts';
import type { AuditEntry, AuditLogWriter } from '@agentfleet/domain';

export interface OrganizationRecord {
  id: string;
  name: string;
  displayName: string | null;
  settings: Record<string, unknown>;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserRecord {
  id: string;
  organizationId: string;
  externalId: string | null;
  email: string;
  name: string | null;
  roles: RoleName[];
  isActive: boolean;
  lastLoginAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ApiKeyRecord {
  id: string;
  organizationId: string;
  userId: string | null;
  name: string;
  prefix: string;
  keyHash: string;
  role: RoleName;
  scopes: Scope[];
  instanceAdmin: boolean;
  rateLimitPerHour: number;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  isActive: boolean;
  revokedAt: Date | null;
  createdAt: Date;
  /** Set by `findByPrefix`: false when the key's organization or owning user is deactivated. */
  holderActive?: boolean;
}

export interface AuditRecord extends Omit<AuditEntry, 'actor'> {
  id: string;
  organizationId: string;
  userId: string | null;
  apiKeyId: string | null;
  workerTokenId: string | null;
  ipAddress: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
}

export interface Page {
  limit: number;
  offset: number;
}
export interface PageResult<T> {
  items: T[];
  total: number;
}

/** Port: organizations. Only instance-admin use cases list across organizations. */
export interface OrganizationRepository {
  create(o: {
    name: string;
    displayName: string | null;
    settings: Record<string, unknown>;
  }): Promise<OrganizationRecord>;
  findById(id: string): Promise<OrganizationRecord | undefined>;
  findByName(name: string): Promise<OrganizationRecord | undefined>;
  list(page: Page): Promise<PageResult<OrganizationRecord>>;
  count(): Promise<number>;
}

/** Port: users of one organization. */
export interface UserRepository {
  create(
    u: Omit<UserRecord, 'id' | 'createdAt' | 'updatedAt' | 'lastLoginAt' | 'isActive'>,
  ): Promise<UserRecord>;
  findById(organizationId: string, id: string): Promise<UserRecord | undefined>;
  findByEmail(organizationId: string, email: string): Promise<UserRecord | undefined>;
  list(organizationId: string, page: Page): Promise<PageResult<UserRecord>>;
  update(
    organizationId: string,
    id: string,
    patch: Partial<Pick<UserRecord, 'name' | 'roles' | 'isActive'>>,
  ): Promise<UserRecord | undefined>;
}

/** Port: API keys. `findByPrefix` is the one lookup across organizations (authentication). */
export interface ApiKeyRepository {
  create(
    k: Omit<ApiKeyRecord, 'id' | 'createdAt' | 'lastUsedAt' | 'isActive' | 'revokedAt'> & {
      createdByKeyId: string | null;
    },
  ): Promise<ApiKeyRecord>;
  findByPrefix(prefix: string): Promise<ApiKeyRecord | undefined>;
  /** `findByPrefix` for several keys in one query (concurrent authentications); the keys found, any order. */
  findManyByPrefix(prefixes: readonly string[]): Promise<ApiKeyRecord[]>;
  findById(organizationId: string, id: string): Promise<ApiKeyRecord | undefined>;
  list(organizationId: string, page: Page): Promise<PageResult<ApiKeyRecord>>;
  /** Conditional: only an active key is revoked; returns the revoked key or undefined. */
  revoke(organizationId: string, id: string, at: Date): Promise<ApiKeyRecord | undefined>;
  /** Records use, at most once a minute per key so that reads do not become writes. */
  touchLastUsed(id: string, at: Date): Promise<void>;
}

/** Port: reads of the audit log. */
export interface AuditLogReader {
  list(
    organizationId: string,
    filter: { action?: string; resourceType?: string; resourceId?: string },
    page: Page,
  ): Promise<PageResult<AuditRecord>>;
}

/** Repositories bound to one transaction. */
export interface AccessRepositories {
  organizations: OrganizationRepository;
  users: UserRepository;
  apiKeys: ApiKeyRepository;
  audit: AuditLogWriter;
  /** Serialises first-start bootstrap across control-plane replicas (held until the transaction ends). */
  lockBootstrap(): Promise<void>;
  /** Keeps the built-in role_definitions rows in step with the code. */
  syncBuiltinRoles(): Promise<void>;
}

/** Port: fixed-window request counter per API key. */
export interface RateLimiter {
  /** Counts one request; returns whether it is within `limitPerHour` and, if not, seconds until the window ends. */
  hit(key: string, limitPerHour: number): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
}
