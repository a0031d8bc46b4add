import type {
  AccessRepositories,
  ApiKeyRecord,
  ApiKeyRepository,
  OrganizationRecord,
  OrganizationRepository,
  Page,
  PageResult,
  UserRecord,
  UserRepository,
} from '@agentfleet/access';
import { BUILTIN_ROLES, ROLE_NAMES } from '@agentfleet/contracts';
import { type EntityManager, IsNull } from 'typeorm';
import { ApiKeyEntity, OrganizationEntity, RoleDefinitionEntity, UserEntity } from './entities';
import { camelRow, pageOf, plain } from './row-mapping';
import { preparedQuery } from './prepared-query';
import { TypeormAuditLogRepository } from './typeorm-audit.repository';

/** Arbitrary constant: the advisory lock that serialises first-start bootstrap. */
const BOOTSTRAP_LOCK_KEY = 0x6166_0001;

class TypeormOrganizationRepository implements OrganizationRepository {
  constructor(private readonly em: EntityManager) {}
  async create(o: { name: string; displayName: string | null; settings: Record<string, unknown> }) {
    const saved = await this.em.save(OrganizationEntity, this.em.create(OrganizationEntity, o));
    return plain<OrganizationRecord>(saved);
  }
  async findById(id: string) {
    const r = await this.em.findOneBy(OrganizationEntity, { id });
    return r ? plain<OrganizationRecord>(r) : undefined;
  }
  async findByName(name: string) {
    const r = await this.em.findOneBy(OrganizationEntity, { name });
    return r ? plain<OrganizationRecord>(r) : undefined;
  }
  async list(page: Page): Promise<PageResult<OrganizationRecord>> {
    return pageOf<OrganizationEntity, OrganizationRecord>(this.em, OrganizationEntity, undefined, page);
  }
  count() {
    return this.em.count(OrganizationEntity);
  }
}

class TypeormUserRepository implements UserRepository {
  constructor(private readonly em: EntityManager) {}
  async create(u: Omit<UserRecord, 'id' | 'createdAt' | 'updatedAt' | 'lastLoginAt' | 'isActive'>) {
    const saved = await this.em.save(UserEntity, this.em.create(UserEntity, u));
    return plain<UserRecord>(saved);
  }
  async findById(organizationId: string, id: string) {
    const r = await this.em.findOneBy(UserEntity, { organizationId, id });
    return r ? plain<UserRecord>(r) : undefined;
  }
  async findByEmail(organizationId: string, email: string) {
    const r = await this.em.findOneBy(UserEntity, { organizationId, email });
    return r ? plain<UserRecord>(r) : undefined;
  }
  async list(organizationId: string, page: Page): Promise<PageResult<UserRecord>> {
    return pageOf<UserEntity, UserRecord>(this.em, UserEntity, { organizationId }, page);
  }
  async update(
    organizationId: string,
    id: string,
    patch: Partial<Pick<UserRecord, 'name' | 'roles' | 'isActive'>>,
  ) {
    const res = await this.em
      .createQueryBuilder()
      .update(UserEntity)
      .set(patch)
      .where('id = :id AND organization_id = :organizationId', { id, organizationId })
      .returning('*')
      .execute();
    const row = (res.raw as Record<string, unknown>[])[0];
    return row ? camelRow<UserRecord>(row) : undefined;
  }
}

class TypeormApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly em: EntityManager) {}
  async create(
    k: Omit<ApiKeyRecord, 'id' | 'createdAt' | 'lastUsedAt' | 'isActive' | 'revokedAt'> & {
      createdByKeyId: string | null;
    },
  ) {
    const saved = await this.em.save(ApiKeyEntity, this.em.create(ApiKeyEntity, k));
    return plain<ApiKeyRecord>(saved);
  }
  /** One query per authentication: the key, and whether its organization and user are still active. */
  async findByPrefix(prefix: string) {
    return (await this.findManyByPrefix([prefix]))[0];
  }
  async findManyByPrefix(prefixes: readonly string[]) {
    if (!prefixes.length) return [];
    const rows = await preparedQuery<Record<string, unknown>[]>(
      this.em,
      `SELECT k.*, (o.is_active AND COALESCE(u.is_active, true)) AS holder_active
         FROM api_keys k
         JOIN organizations o ON o.id = k.organization_id
         LEFT JOIN users u ON u.id = k.user_id
        WHERE k.prefix = ANY($1::text[])`,
      [prefixes],
    );
    return rows.map((r) => camelRow<ApiKeyRecord>(r));
  }
  async findById(organizationId: string, id: string) {
    const r = await this.em.findOneBy(ApiKeyEntity, { organizationId, id });
    return r ? plain<ApiKeyRecord>(r) : undefined;
  }
  async list(organizationId: string, page: Page): Promise<PageResult<ApiKeyRecord>> {
    return pageOf<ApiKeyEntity, ApiKeyRecord>(this.em, ApiKeyEntity, { organizationId }, page);
  }
  async revoke(organizationId: string, id: string, at: Date) {
    const res = await this.em
      .createQueryBuilder()
      .update(ApiKeyEntity)
      .set({ isActive: false, revokedAt: at })
      .where('id = :id AND organization_id = :organizationId AND is_active', { id, organizationId })
      .returning('*')
      .execute();
    const row = (res.raw as Record<string, unknown>[])[0];
    return row ? camelRow<ApiKeyRecord>(row) : undefined;
  }
  async touchLastUsed(id: string, at: Date) {
    await this.em.query(
      `UPDATE api_keys SET last_used_at = $2
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '60 seconds')`,
      [id, at],
    );
  }
}

export function accessRepositories(em: EntityManager): AccessRepositories {
  return {
    organizations: new TypeormOrganizationRepository(em),
    users: new TypeormUserRepository(em),
    apiKeys: new TypeormApiKeyRepository(em),
    audit: new TypeormAuditLogRepository(em),
    async lockBootstrap() {
      await em.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY]);
    },
    async syncBuiltinRoles() {
      for (const name of ROLE_NAMES) {
        const role = BUILTIN_ROLES[name];
        const existing = await em.findOneBy(RoleDefinitionEntity, { name, organizationId: IsNull() });
        if (existing) {
          await em.update(
            RoleDefinitionEntity,
            { id: existing.id },
            { description: role.description, permissions: [...role.permissions] },
          );
        } else {
          await em.insert(RoleDefinitionEntity, {
            name,
            organizationId: null,
            description: role.description,
            permissions: [...role.permissions],
            isBuiltin: true,
          });
        }
      }
    },
  };
}
