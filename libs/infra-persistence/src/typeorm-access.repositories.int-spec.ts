import { randomBytes } from 'node:crypto';
import { type AccessRepositories, type ApiKeyRecord, BootstrapInstanceUseCase } from '@agentfleet/access';
import { BUILTIN_ROLES, ROLE_NAMES } from '@agentfleet/contracts';
import type { AuditEntry } from '@agentfleet/domain';
import { NodeCredentialHasher } from '@agentfleet/infra-crypto';
import { createTestDatabase, type TestDatabase } from '@agentfleet/testing';
import type { DataSource } from 'typeorm';
import { createDataSource } from './data-source';
import { accessRepositories } from './typeorm-access.repositories';
import { TypeormAuditLogRepository } from './typeorm-audit.repository';
import { TypeormUnitOfWork } from './typeorm-unit-of-work';

const unique = () => randomBytes(6).toString('hex');

interface Db {
  db: TestDatabase;
  ds: DataSource;
  uow: TypeormUnitOfWork<AccessRepositories>;
}

async function openDatabase(): Promise<Db> {
  const db = await createTestDatabase();
  const ds = createDataSource({ url: db.url, poolSize: 8 });
  await ds.initialize();
  return { db, ds, uow: new TypeormUnitOfWork(ds, accessRepositories) };
}

async function closeDatabase(d: Db | undefined) {
  await d?.ds.destroy();
  await d?.db.drop();
}

describe('TypeORM access repositories', () => {
  let d: Db;
  beforeAll(async () => {
    d = await openDatabase();
  });
  afterAll(() => closeDatabase(d));

  const newOrganization = async () =>
    (
      await d.uow.run((r) =>
        r.organizations.create({ name: `org-${unique()}`, displayName: null, settings: {} }),
      )
    ).id;

  const newApiKey = (organizationId: string): Promise<ApiKeyRecord> =>
    d.uow.run((r) =>
      r.apiKeys.create({
        organizationId,
        userId: null,
        name: 'key',
        prefix: unique(),
        keyHash: randomBytes(32).toString('hex'),
        role: 'operator',
        scopes: ['workers:read'],
        instanceAdmin: false,
        rateLimitPerHour: 0,
        expiresAt: null,
        createdByKeyId: null,
      }),
    );

  const newUser = (organizationId: string, email = `${unique()}@example.com`) =>
    d.uow.run((r) =>
      r.users.create({ organizationId, externalId: null, email, name: 'Ada', roles: ['viewer'] }),
    );

  describe('organizations', () => {
    it('create stores defaults; findById, findByName and count see it', async () => {
      const name = `org-${unique()}`;
      const org = await d.uow.run((r) =>
        r.organizations.create({ name, displayName: 'Org', settings: { a: 1 } }),
      );
      expect(org).toMatchObject({ name, displayName: 'Org', settings: { a: 1 }, isActive: true });
      expect((await d.uow.run((r) => r.organizations.findById(org.id)))?.name).toBe(name);
      expect((await d.uow.run((r) => r.organizations.findByName(name)))?.id).toBe(org.id);
      expect(await d.uow.run((r) => r.organizations.findByName('no-such-org'))).toBeUndefined();
      expect(await d.uow.run((r) => r.organizations.count())).toBeGreaterThanOrEqual(1);
    });

    it('a second organization with the same name is rejected by the database', async () => {
      const name = `org-${unique()}`;
      await d.uow.run((r) => r.organizations.create({ name, displayName: null, settings: {} }));
      await expect(
        d.uow.run((r) => r.organizations.create({ name, displayName: null, settings: {} })),
      ).rejects.toThrow(/duplicate key/);
    });
  });

  describe('api keys', () => {
    it('findByPrefix finds a key across organizations, findById only within its own', async () => {
      const [orgA, orgB] = [await newOrganization(), await newOrganization()];
      const key = await newApiKey(orgA);
      expect(key).toMatchObject({
        isActive: true,
        revokedAt: null,
        lastUsedAt: null,
        scopes: ['workers:read'],
      });
      expect(await d.uow.run((r) => r.apiKeys.findByPrefix(key.prefix))).toMatchObject({
        id: key.id,
        keyHash: key.keyHash,
        organizationId: orgA,
      });
      expect(await d.uow.run((r) => r.apiKeys.findById(orgB, key.id))).toBeUndefined();
      expect((await d.uow.run((r) => r.apiKeys.findById(orgA, key.id)))?.id).toBe(key.id);
    });

    it('revoke is conditional: the first revoke deactivates the key, a second returns undefined', async () => {
      const org = await newOrganization();
      const key = await newApiKey(org);
      const at = new Date('2030-01-01T00:00:00Z');
      const revoked = await d.uow.run((r) => r.apiKeys.revoke(org, key.id, at));
      expect(revoked).toMatchObject({ id: key.id, isActive: false, revokedAt: at });
      expect(await d.uow.run((r) => r.apiKeys.revoke(org, key.id, new Date()))).toBeUndefined();
      expect((await d.uow.run((r) => r.apiKeys.findById(org, key.id)))?.revokedAt).toEqual(at);
    });

    it('revoke from another organization returns undefined and leaves the key active', async () => {
      const [orgA, orgB] = [await newOrganization(), await newOrganization()];
      const key = await newApiKey(orgA);
      expect(await d.uow.run((r) => r.apiKeys.revoke(orgB, key.id, new Date()))).toBeUndefined();
      expect(await d.uow.run((r) => r.apiKeys.findById(orgA, key.id))).toMatchObject({
        isActive: true,
        revokedAt: null,
      });
    });

    it('concurrent revokes of one key: exactly one returns it', async () => {
      const org = await newOrganization();
      const key = await newApiKey(org);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => d.uow.run((r) => r.apiKeys.revoke(org, key.id, new Date()))),
      );
      expect(results.filter((k) => k !== undefined)).toHaveLength(1);
    });

    it('touchLastUsed writes at most once per 60 seconds and never moves the time back', async () => {
      const org = await newOrganization();
      const key = await newApiKey(org);
      const lastUsed = async () => (await d.uow.run((r) => r.apiKeys.findById(org, key.id)))?.lastUsedAt;
      const t0 = new Date('2030-01-01T00:00:00Z');
      await d.uow.run((r) => r.apiKeys.touchLastUsed(key.id, t0));
      expect(await lastUsed()).toEqual(t0);

      await d.uow.run((r) => r.apiKeys.touchLastUsed(key.id, new Date(t0.getTime() + 30_000)));
      expect(await lastUsed()).toEqual(t0);
      await d.uow.run((r) => r.apiKeys.touchLastUsed(key.id, new Date(t0.getTime() + 60_000)));
      expect(await lastUsed()).toEqual(t0);

      const t1 = new Date(t0.getTime() + 61_000);
      await d.uow.run((r) => r.apiKeys.touchLastUsed(key.id, t1));
      expect(await lastUsed()).toEqual(t1);

      await d.uow.run((r) => r.apiKeys.touchLastUsed(key.id, new Date(t0.getTime() - 3_600_000)));
      expect(await lastUsed()).toEqual(t1);
    });

    it('touchLastUsed does not bump updated_at when it writes nothing', async () => {
      const org = await newOrganization();
      const key = await newApiKey(org);
      const t0 = new Date('2030-01-01T00:00:00Z');
      await d.uow.run((r) => r.apiKeys.touchLastUsed(key.id, t0));
      const updatedAt = async () =>
        (
          await d.ds.query<{ updated_at: Date }[]>('SELECT updated_at FROM api_keys WHERE id = $1', [key.id])
        )[0]!.updated_at;
      const before = await updatedAt();
      await d.uow.run((r) => r.apiKeys.touchLastUsed(key.id, new Date(t0.getTime() + 1_000)));
      expect(await updatedAt()).toEqual(before);
    });

    it("list returns only the organization's keys with the total", async () => {
      const [orgA, orgB] = [await newOrganization(), await newOrganization()];
      const k1 = await newApiKey(orgA);
      const k2 = await newApiKey(orgA);
      await newApiKey(orgB);
      const res = await d.uow.run((r) => r.apiKeys.list(orgA, { limit: 10, offset: 0 }));
      expect(res.total).toBe(2);
      expect(res.items.map((k) => k.id)).toEqual([k1.id, k2.id]);
    });
  });

  describe('users', () => {
    it('update is scoped by organization: another organization gets undefined and changes nothing', async () => {
      const [orgA, orgB] = [await newOrganization(), await newOrganization()];
      const user = await newUser(orgA);
      expect(
        await d.uow.run((r) => r.users.update(orgB, user.id, { name: 'Mallory', isActive: false })),
      ).toBeUndefined();
      expect(await d.uow.run((r) => r.users.findById(orgA, user.id))).toMatchObject({
        name: 'Ada',
        isActive: true,
      });

      const updated = await d.uow.run((r) =>
        r.users.update(orgA, user.id, { roles: ['operator', 'viewer'], isActive: false }),
      );
      expect(updated).toMatchObject({
        id: user.id,
        name: 'Ada',
        roles: ['operator', 'viewer'],
        isActive: false,
      });
      expect(updated?.updatedAt.getTime()).toBeGreaterThanOrEqual(user.updatedAt.getTime());
    });

    it('findById and findByEmail are scoped by organization', async () => {
      const [orgA, orgB] = [await newOrganization(), await newOrganization()];
      const user = await newUser(orgA, 'scoped@example.com');
      expect(await d.uow.run((r) => r.users.findById(orgB, user.id))).toBeUndefined();
      expect(await d.uow.run((r) => r.users.findByEmail(orgB, 'scoped@example.com'))).toBeUndefined();
      expect((await d.uow.run((r) => r.users.findByEmail(orgA, 'scoped@example.com')))?.id).toBe(user.id);
    });

    it('a second user with the same email in one organization is rejected; another organization may reuse it', async () => {
      const [orgA, orgB] = [await newOrganization(), await newOrganization()];
      await newUser(orgA, 'dup@example.com');
      await expect(newUser(orgA, 'dup@example.com')).rejects.toThrow(/duplicate key/);
      await expect(newUser(orgB, 'dup@example.com')).resolves.toMatchObject({ organizationId: orgB });
      const res = await d.uow.run((r) => r.users.list(orgA, { limit: 10, offset: 0 }));
      expect(res.total).toBe(1);
    });

    it('concurrent creation of one email in one organization leaves exactly one user', async () => {
      const org = await newOrganization();
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => newUser(org, 'race@example.com')),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect((await d.uow.run((r) => r.users.list(org, { limit: 10, offset: 0 }))).total).toBe(1);
    });
  });

  describe('built-in roles', () => {
    it('syncBuiltinRoles is idempotent: four built-in rows after running twice, matching the code', async () => {
      await d.uow.run((r) => r.syncBuiltinRoles());
      await d.uow.run((r) => r.syncBuiltinRoles());
      const rows = await d.ds.query<{ name: string; permissions: string[]; is_builtin: boolean }[]>(
        'SELECT name, permissions, is_builtin FROM role_definitions WHERE organization_id IS NULL ORDER BY name',
      );
      expect(rows).toHaveLength(ROLE_NAMES.length);
      expect(rows.map((r) => r.name)).toEqual([...ROLE_NAMES].sort());
      for (const row of rows) {
        expect(row.is_builtin).toBe(true);
        expect(row.permissions).toEqual([
          ...BUILTIN_ROLES[row.name as (typeof ROLE_NAMES)[number]].permissions,
        ]);
      }
    });

    it('syncBuiltinRoles restores permissions that were changed in the database', async () => {
      await d.uow.run((r) => r.syncBuiltinRoles());
      await d.ds.query(
        `UPDATE role_definitions SET permissions = '{}' WHERE name = 'admin' AND organization_id IS NULL`,
      );
      await d.uow.run((r) => r.syncBuiltinRoles());
      const rows = await d.ds.query<{ permissions: string[] }[]>(
        `SELECT permissions FROM role_definitions WHERE name = 'admin' AND organization_id IS NULL`,
      );
      expect(rows[0]!.permissions).toEqual([...BUILTIN_ROLES.admin.permissions]);
    });
  });

  describe('audit log', () => {
    const record = (organizationId: string, e: Partial<AuditEntry> & { action: string }) =>
      d.ds.transaction((em) =>
        new TypeormAuditLogRepository(em).record({
          actor: { organizationId },
          resourceType: 'worker',
          resourceId: null,
          ...e,
        }),
      );

    it("the reader filters by action, returns newest first, and never shows another organization's entries", async () => {
      const [orgA, orgB] = [await newOrganization(), await newOrganization()];
      // one transaction each: created_at is the transaction's start time
      await record(orgA, { action: 'worker.drained', resourceId: 'w1' });
      await record(orgA, { action: 'worker.lost', resourceId: 'w2' });
      await record(orgA, { action: 'worker.drained', resourceId: 'w3' });
      await record(orgB, { action: 'worker.drained', resourceId: 'other-org' });
      const reader = new TypeormAuditLogRepository(d.ds.manager);
      const page = { limit: 10, offset: 0 };

      const drained = await reader.list(orgA, { action: 'worker.drained' }, page);
      expect(drained.total).toBe(2);
      expect(drained.items.map((e) => e.resourceId)).toEqual(['w3', 'w1']);

      const all = await reader.list(orgA, {}, page);
      expect(all.items.map((e) => e.resourceId)).toEqual(['w3', 'w2', 'w1']);
      expect(all.items.every((e) => e.organizationId === orgA)).toBe(true);

      expect(
        (await reader.list(orgA, { resourceType: 'worker', resourceId: 'w2' }, page)).items,
      ).toHaveLength(1);
      expect(await reader.list(orgA, { resourceId: 'other-org' }, page)).toEqual({ items: [], total: 0 });

      const second = await reader.list(orgA, {}, { limit: 1, offset: 1 });
      expect(second).toEqual({ items: [expect.objectContaining({ resourceId: 'w2' })], total: 3 });
    });

    it('the writer stores the actor, details, and an IP address cut to the column width', async () => {
      const org = await newOrganization();
      const key = await newApiKey(org);
      const longIp = `2001:0db8:85a3:0000:0000:8a2e:0370:7334%${'x'.repeat(40)}`;
      await record(org, {
        action: 'api_key.created',
        resourceType: 'api_key',
        resourceId: key.id,
        details: { role: 'operator', nested: { ok: true } },
        actor: { organizationId: org, apiKeyId: key.id, userId: null, ipAddress: longIp },
      });
      const [entry] = (
        await new TypeormAuditLogRepository(d.ds.manager).list(org, {}, { limit: 1, offset: 0 })
      ).items;
      expect(entry).toMatchObject({
        organizationId: org,
        apiKeyId: key.id,
        userId: null,
        workerTokenId: null,
        action: 'api_key.created',
        resourceType: 'api_key',
        resourceId: key.id,
        details: { role: 'operator', nested: { ok: true } },
        ipAddress: longIp.slice(0, 45),
      });
      expect(entry?.createdAt).toBeInstanceOf(Date);
    });

    it('an entry written in a transaction that rolls back is not kept', async () => {
      const org = await newOrganization();
      await expect(
        d.uow.run(async (r) => {
          await r.audit.record({
            actor: { organizationId: org },
            action: 'x.y',
            resourceType: 'x',
            resourceId: null,
          });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(
        (await new TypeormAuditLogRepository(d.ds.manager).list(org, {}, { limit: 10, offset: 0 })).total,
      ).toBe(0);
    });
  });

  describe('updated_at trigger', () => {
    it('sets updated_at on a raw UPDATE, overriding a value the statement tried to write', async () => {
      const org = await newOrganization();
      const read = async () =>
        (
          await d.ds.query<{ created_at: Date; updated_at: Date }[]>(
            'SELECT created_at, updated_at FROM organizations WHERE id = $1',
            [org],
          )
        )[0]!;
      const before = await read();
      await d.ds.query(
        `UPDATE organizations SET display_name = 'renamed', updated_at = '2000-01-01T00:00:00Z' WHERE id = $1`,
        [org],
      );
      const after = await read();
      expect(after.updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());
      expect(after.created_at).toEqual(before.created_at);
    });

    it('is installed on every table that has an updated_at column', async () => {
      const rows = await d.ds.query<{ table: string }[]>(
        `SELECT c.relname AS table FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          WHERE NOT t.tgisinternal AND t.tgname LIKE '%_set_updated_at' ORDER BY c.relname`,
      );
      const withColumn = await d.ds.query<{ table: string }[]>(
        `SELECT table_name AS table FROM information_schema.columns
          WHERE table_schema = 'public' AND column_name = 'updated_at' ORDER BY table_name`,
      );
      expect(withColumn.length).toBeGreaterThanOrEqual(6);
      expect(rows.map((r) => r.table)).toEqual(withColumn.map((r) => r.table));
    });
  });
});

describe('bootstrap lock (BootstrapInstanceUseCase on an empty database)', () => {
  // a database of its own: bootstrap only acts while no organization exists
  let d: Db;
  beforeAll(async () => {
    d = await openDatabase();
  });
  afterAll(() => closeDatabase(d));

  it('serialises concurrent ifEmpty() calls: exactly one creates the organization and key, the others return undefined', async () => {
    const hasher = new NodeCredentialHasher();
    // separate use-case instances, as on separate replicas; each runs in its own transaction
    const results = await Promise.all(
      Array.from({ length: 4 }, () => new BootstrapInstanceUseCase(d.uow, hasher).ifEmpty('default')),
    );
    const created = results.filter((r) => r !== undefined);
    expect(created).toHaveLength(1);
    expect(results.filter((r) => r === undefined)).toHaveLength(3);

    const orgs = await d.ds.query<{ id: string; name: string }[]>('SELECT id, name FROM organizations');
    expect(orgs).toEqual([{ id: created[0]!.organizationId, name: 'default' }]);
    const keys = await d.ds.query<{ id: string; instance_admin: boolean; key_hash: string }[]>(
      'SELECT id, instance_admin, key_hash FROM api_keys',
    );
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ id: created[0]!.adminKeyId, instance_admin: true });
    expect(hasher.matches(created[0]!.adminKey, keys[0]!.key_hash)).toBe(true);
    const roles = await d.ds.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM role_definitions WHERE organization_id IS NULL AND is_builtin',
    );
    expect(roles[0]!.n).toBe(ROLE_NAMES.length);
    const audit = await d.ds.query<{ action: string }[]>('SELECT action FROM audit_log');
    expect(audit).toEqual([{ action: 'instance.bootstrapped' }]);
  });

  it('does nothing once an organization exists', async () => {
    expect(await new BootstrapInstanceUseCase(d.uow, new NodeCredentialHasher()).ifEmpty()).toBeUndefined();
    expect((await d.ds.query<{ n: number }[]>('SELECT count(*)::int AS n FROM api_keys'))[0]!.n).toBe(1);
  });
});
