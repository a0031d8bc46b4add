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
