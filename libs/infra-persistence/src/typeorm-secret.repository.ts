import type { SecretAuthor, SecretRecord, SecretRepository } from '@agentfleet/execution';
import { type EntityManager, In } from 'typeorm';
import { SecretEntity } from './entities';
import { camelRow, plain } from './row-mapping';

/** Organization secrets; every statement is scoped by organization. */
export class TypeormSecretRepository implements SecretRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * One statement whatever the race: two first PUTs of one name end as a create and a replace, never a
   * unique-violation. `xmax = 0` holds for a row this statement inserted, not for one it updated.
   */
  async put(
    organizationId: string,
    name: string,
    s: { valueSealed: string; description?: string; by: SecretAuthor },
  ): Promise<{ secret: SecretRecord; created: boolean }> {
    const rows = await this.em.query<(Record<string, unknown> & { created: boolean })[]>(
      `INSERT INTO secrets AS s
              (organization_id, name, value_sealed, description,
               created_by_api_key_id, created_by_user_id, updated_by_api_key_id, updated_by_user_id)
       VALUES ($1, $2, $3, $4, $5, $6, $5, $6)
       ON CONFLICT (organization_id, name) DO UPDATE SET
              value_sealed = EXCLUDED.value_sealed,
              description = CASE WHEN $7 THEN EXCLUDED.description ELSE s.description END,
              updated_by_api_key_id = EXCLUDED.updated_by_api_key_id,
              updated_by_user_id = EXCLUDED.updated_by_user_id
       RETURNING *, (xmax = 0) AS created`,
      [
        organizationId,
        name,
        s.valueSealed,
        s.description ?? null,
        s.by.apiKeyId,
        s.by.userId,
        s.description !== undefined,
      ],
    );
    const { created, ...row } = rows[0]!;
    return { secret: camelRow<SecretRecord>(row), created };
  }

  async findByName(organizationId: string, name: string) {
    const r = await this.em.findOneBy(SecretEntity, { organizationId, name });
    return r ? plain<SecretRecord>(r) : undefined;
  }

  async findByNames(organizationId: string, names: readonly string[]) {
    if (!names.length) return [];
    const rows = await this.em.findBy(SecretEntity, { organizationId, name: In([...names]) });
    return rows.map((r) => plain<SecretRecord>(r));
  }

  async existingNames(organizationId: string, names: readonly string[]) {
    if (!names.length) return [];
    const rows = await this.em.query<{ name: string }[]>(
      `SELECT name FROM secrets WHERE organization_id = $1 AND name = ANY($2::text[])`,
      [organizationId, names],
    );
    return rows.map((r) => r.name);
  }

  async list(organizationId: string, page: { limit: number; offset: number }) {
    const [rows, total] = await this.em.findAndCount(SecretEntity, {
      where: { organizationId },
      order: { name: 'ASC' },
      take: page.limit,
      skip: page.offset,
    });
    return { items: rows.map((r) => plain<SecretRecord>(r)), total };
  }

  async delete(organizationId: string, name: string) {
    const res = await this.em.query<[Record<string, unknown>[], number]>(
      `DELETE FROM secrets WHERE organization_id = $1 AND name = $2 RETURNING *`,
      [organizationId, name],
    );
    const row = res[0][0];
    return row ? camelRow<SecretRecord>(row) : undefined;
  }
}
