import type { EntityManager, EntityTarget, FindOptionsWhere, ObjectLiteral } from 'typeorm';

/** snake_case → camelCase of column names; the set is the schema's, so it is kept (a regex per key per row showed in profiles). */
const camelKeys = new Map<string, string>();

function camelKey(k: string): string {
  let c = camelKeys.get(k);
  if (c === undefined) {
    c = k.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
    camelKeys.set(k, c);
  }
  return c;
}

/** Rows from raw SQL (RETURNING *) come in snake_case; records are camelCase. */
export function camelRow<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const k in row) out[camelKey(k)] = row[k];
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
