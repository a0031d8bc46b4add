import type { EntityManager, EntityTarget, FindOptionsWhere, ObjectLiteral } from 'typeorm';

/** Rows from raw SQL (RETURNING *) come in snake_case; records are camelCase. */
export function camelRow<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row))
    out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out as T;
}

/** Strips TypeORM relation fields and returns the plain record. */
export function plain<T>(entity: object): T {
  const { organization: _o, user: _u, token: _t, ...rest } = entity as Record<string, unknown>;
  return rest as T;
}

/** One page of an entity, oldest first (or newest first), with the total for the same filter. */
export async function pageOf<E extends ObjectLiteral & { createdAt: Date; id: string }, R>(
  em: EntityManager,
  entity: EntityTarget<E>,
  where: FindOptionsWhere<E> | undefined,
  page: { limit: number; offset: number },
  direction: 'ASC' | 'DESC' = 'ASC',
): Promise<{ items: R[]; total: number }> {
  const [rows, total] = await em.findAndCount(entity, {
    ...(where ? { where } : {}),
    order: { createdAt: direction, id: direction } as never,
    take: page.limit,
    skip: page.offset,
  });
  return { items: rows.map((r) => plain<R>(r)), total };
}
