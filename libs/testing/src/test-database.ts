import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { MIGRATIONS, createDataSource, runMigrations } from '@agentfleet/infra-persistence';

/** Server-level URL used to create and drop test databases. */
export const TEST_PG_ADMIN_URL =
  process.env['AGENTFLEET_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** A template with every migration applied; named by the migrations so a new one builds a new template. */
export function templateName(): string {
  const h = createHash('sha256')
    .update(MIGRATIONS.map((m) => m.name).join(','))
    .digest('hex')
    .slice(0, 12);
  return `af_tpl_${h}`;
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Builds the migrated template once (jest global setup). */
export async function ensureTemplateDatabase(): Promise<string> {
  const name = templateName();
  const exists = await admin(
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount,
  );
  if (exists) return name;
  const building = `${name}_b${randomBytes(3).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${building}"`));
  const ds = createDataSource({ url: withDatabase(TEST_PG_ADMIN_URL, building), poolSize: 2 });
  await ds.initialize();
  await runMigrations(ds);
  await ds.destroy();
  // rename is atomic: a concurrent run either sees the finished template or builds its own
  await admin(async (c) => {
    try {
      await c.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
    } catch {
      await c.query(`DROP DATABASE IF EXISTS "${building}"`);
    }
  });
  return name;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file (copied from the template, ~100 ms). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = await ensureTemplateDatabase();
  const name = `af_t_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  return {
    name,
    url: withDatabase(TEST_PG_ADMIN_URL, name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
