import { DataSource, type DataSourceOptions, type Logger as TypeormLogger } from 'typeorm';
import { SnakeNamingStrategy } from 'typeorm-naming-strategies';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { disablePreparedStatements } from './prepared-query';

export interface PersistenceOptions {
  url: string;
  /** Connections per process. */
  poolSize?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
  statementTimeoutMs?: number;
  logger?: TypeormLogger;
  /**
   * Hot statements as named prepared statements (default true). Off behind a pooler in transaction
   * mode that does not carry prepared statements across server connections (PgBouncer before 1.21).
   */
  preparedStatements?: boolean;
}

export function dataSourceOptions(o: PersistenceOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url: o.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    namingStrategy: new SnakeNamingStrategy(),
    // gen_random_uuid() is built into PostgreSQL 13+: no extension to install, no superuser needed
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    synchronize: false,
    migrationsRun: false,
    poolSize: o.poolSize ?? 10,
    applicationName: o.applicationName ?? 'agentfleet',
    ...(o.logger
      ? { logger: o.logger, logging: ['error', 'warn', 'migration'] as const }
      : { logging: false }),
    extra: {
      statement_timeout: o.statementTimeoutMs ?? 30_000,
      connectionTimeoutMillis: 5_000,
      // every unit of work runs READ COMMITTED whatever the server's default; set per connection at
      // start-up so that a transaction opens with one statement, not START + SET TRANSACTION
      options: '-c default_transaction_isolation=read\\ committed',
    },
  };
}

export function createDataSource(o: PersistenceOptions): DataSource {
  const ds = new DataSource(dataSourceOptions(o));
  if (o.preparedStatements === false) disablePreparedStatements(ds);
  return ds;
}

/** Arbitrary constant: the advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK_KEY = 0x6166_0002;

/**
 * Applies pending migrations. A session advisory lock held on its own connection makes concurrent
 * callers (two replicas, a Helm hook and a replica) wait for each other instead of racing.
 * Needs a pool of at least two connections (one holds the lock).
 */
export async function runMigrations(ds: DataSource): Promise<string[]> {
  const lock = ds.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.release();
  }
}
