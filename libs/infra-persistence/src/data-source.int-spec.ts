import { randomBytes } from 'node:crypto';
import { TEST_PG_ADMIN_URL } from '@agentfleet/testing';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource, runMigrations } from './data-source';
import { MIGRATIONS } from './migrations';

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function urlOf(db: string): string {
  const u = new URL(TEST_PG_ADMIN_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

describe('runMigrations on a fresh, empty database', () => {
  // not the migrated template: this database starts with nothing in it
  const name = `af_t_mig_${randomBytes(5).toString('hex')}`;
  const sources: DataSource[] = [];

  beforeAll(async () => {
    await admin(`CREATE DATABASE "${name}"`);
  });
  afterAll(async () => {
    for (const ds of sources) if (ds.isInitialized) await ds.destroy();
    await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });

  async function open(applicationName: string): Promise<DataSource> {
    // two connections: one holds the advisory lock, one runs the migrations
    const ds = createDataSource({ url: urlOf(name), poolSize: 2, applicationName });
    sources.push(ds);
    await ds.initialize();
    return ds;
  }

  it('two replicas migrating at once both succeed and every migration is applied exactly once', async () => {
    const [a, b] = [await open('replica-a'), await open('replica-b')];
    const [appliedA, appliedB] = await Promise.all([runMigrations(a), runMigrations(b)]);

    const expected = MIGRATIONS.map((m) => new m().name);
    // whichever took the lock first applied everything; the other found nothing pending
    expect([...appliedA, ...appliedB].sort()).toEqual([...expected].sort());
    expect([appliedA.length, appliedB.length].sort()).toEqual([0, expected.length]);

    const rows = await a.query<{ name: string }[]>('SELECT name FROM typeorm_migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(expected);
    const tables = await a.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM information_schema.tables
        WHERE table_schema = 'public' AND table_name IN ('organizations', 'users', 'api_keys', 'role_definitions', 'audit_log', 'worker_tokens', 'workers')`,
    );
    expect(tables[0]!.n).toBe(7);
  });

  it('running again applies nothing and releases the lock for the next caller', async () => {
    const [a, b] = [sources[0]!, sources[1]!];
    expect(await runMigrations(a)).toEqual([]);
    expect(await runMigrations(b)).toEqual([]);
    // the session lock was released: nobody in this database still holds it
    const held = await a.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`,
    );
    expect(held[0]!.n).toBe(0);
  });
});
