import { randomBytes } from 'node:crypto';
import type { FleetRepositories, RegistrationFields, WorkerTokenRecord } from '@agentfleet/fleet';
import { createTestDatabase, type TestDatabase } from '@agentfleet/testing';
import type { DataSource } from 'typeorm';
import { createDataSource } from './data-source';
import { OrganizationEntity } from './entities';
import { fleetRepositories } from './typeorm-fleet.repositories';
import { TypeormUnitOfWork } from './typeorm-unit-of-work';

let db: TestDatabase;
let ds: DataSource;
let uow: TypeormUnitOfWork<FleetRepositories>;

beforeAll(async () => {
  db = await createTestDatabase();
  ds = createDataSource({ url: db.url, poolSize: 12 });
  await ds.initialize();
  uow = new TypeormUnitOfWork(ds, fleetRepositories);
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

const unique = () => randomBytes(6).toString('hex');

async function newOrganization(): Promise<string> {
  const org = await ds.manager.save(
    OrganizationEntity,
    ds.manager.create(OrganizationEntity, { name: `org-${unique()}` }),
  );
  return org.id;
}

async function newToken(
  organizationId: string,
  over: Partial<Pick<WorkerTokenRecord, 'expiresAt' | 'pools'>> = {},
): Promise<WorkerTokenRecord> {
  return uow.run((r) =>
    r.workerTokens.create({
      organizationId,
      name: 'token',
      prefix: unique(),
      tokenHash: randomBytes(32).toString('hex'),
      labels: { zone: 'a' },
      capabilities: ['execute'],
      maxConcurrentTasks: 2,
      pools: over.pools ?? ['default'],
      createdBy: null,
      expiresAt: over.expiresAt ?? null,
    }),
  );
}

function registration(token: WorkerTokenRecord, over: Partial<RegistrationFields> = {}): RegistrationFields {
  return {
    organizationId: token.organizationId,
    tokenId: token.id,
    instanceId: `instance-${unique()}`,
    hostname: 'host-1',
    version: '1.0.0',
    protocolVersion: 1,
    labels: { zone: 'a' },
    capabilities: ['execute'],
    pools: ['default'],
    capacity: { memory_mb: 1024, cpus: 2 },
    concurrency: 2,
    registeredAt: new Date('2030-01-01T00:00:00Z'),
    ...over,
  };
}

async function register(token: WorkerTokenRecord, over: Partial<RegistrationFields> = {}) {
  return uow.run((r) => r.workers.upsertRegistration(registration(token, over)));
}

describe('TypeormWorkerRepository', () => {
  it('upsertRegistration inserts an online, active worker with every registration field', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const fields = registration(token, { labels: { gpu: 'a100' }, pools: ['default', 'gpu'] });
    const w = await uow.run((r) => r.workers.upsertRegistration(fields));
    expect(w).toMatchObject({
      organizationId: org,
      tokenId: token.id,
      instanceId: fields.instanceId,
      hostname: 'host-1',
      version: '1.0.0',
      protocolVersion: 1,
      labels: { gpu: 'a100' },
      capabilities: ['execute'],
      pools: ['default', 'gpu'],
      capacity: { memory_mb: 1024, cpus: 2 },
      concurrency: 2,
      status: 'online',
      scheduling: 'active',
      lostAt: null,
      offlineAt: null,
    });
    expect(w.registeredAt).toEqual(fields.registeredAt);
    expect(w.lastSeenAt).toEqual(fields.registeredAt);
    // what comes back from RETURNING * reads the same as a later lookup
    const found = await uow.run((r) => r.workers.findById(org, w.id));
    expect(found).toMatchObject({
      id: w.id,
      labels: { gpu: 'a100' },
      pools: ['default', 'gpu'],
      status: 'online',
    });
  });

  it('upsertRegistration of the same (token, instance) keeps the id and scheduling, updates fields and brings an offline worker back online', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const first = await register(token, { instanceId: 'same-instance', version: '1.0.0' });
    await uow.run((r) => r.workers.setScheduling(org, first.id, 'cordoned'));
    const offlineAt = new Date('2030-01-01T00:05:00Z');
    expect(
      await uow.run((r) => r.workers.transition([first.id], ['online', 'lost'], 'offline', offlineAt)),
    ).toHaveLength(1);

    const again = await register(token, {
      instanceId: 'same-instance',
      version: '1.1.0',
      registeredAt: new Date('2030-01-01T00:10:00Z'),
    });
    expect(again.id).toBe(first.id);
    expect(again.status).toBe('online');
    expect(again.scheduling).toBe('cordoned');
    expect(again.version).toBe('1.1.0');
    expect(again.offlineAt).toBeNull();
    expect(again.lastSeenAt).toEqual(new Date('2030-01-01T00:10:00Z'));
  });

  it('upsertRegistration of the same instance id under another token is a different worker', async () => {
    const org = await newOrganization();
    const [t1, t2] = [await newToken(org), await newToken(org)];
    const a = await register(t1, { instanceId: 'shared-host' });
    const b = await register(t2, { instanceId: 'shared-host' });
    expect(a.id).not.toBe(b.id);
  });

  it('concurrent registrations of one instance (10 transactions at once) converge on one row', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const fields = registration(token, { instanceId: 'racy-instance' });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => uow.run((r) => r.workers.upsertRegistration(fields))),
    );
    expect(new Set(results.map((w) => w.id)).size).toBe(1);
    const rows = await ds.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM workers WHERE token_id = $1 AND instance_id = $2',
      [token.id, 'racy-instance'],
    );
    expect(rows[0]!.n).toBe(1);
  });

  it('transition moves only workers whose status is in `from` and stamps lost_at / offline_at', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const w = await register(token);
    const lostAt = new Date('2030-01-01T01:00:00Z');
    const lost = await uow.run((r) => r.workers.transition([w.id], ['online'], 'lost', lostAt));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ id: w.id, status: 'lost', lostAt, offlineAt: null });

    const offlineAt = new Date('2030-01-01T01:01:00Z');
    const offline = await uow.run((r) =>
      r.workers.transition([w.id], ['online', 'lost'], 'offline', offlineAt),
    );
    expect(offline[0]).toMatchObject({ status: 'offline', offlineAt, lostAt });

    // a late reaper decision ('lost' from 'online') must not resurrect or relabel an offline worker
    const late = await uow.run((r) =>
      r.workers.transition([w.id], ['online'], 'lost', new Date('2030-01-01T01:02:00Z')),
    );
    expect(late).toEqual([]);
    const after = await uow.run((r) => r.workers.findById(org, w.id));
    expect(after).toMatchObject({ status: 'offline', lostAt, offlineAt });
  });

  it('transition back to online records last_seen_at and returns only the workers that moved', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const [a, b] = [await register(token), await register(token)];
    await uow.run((r) => r.workers.transition([a.id], ['online'], 'lost', new Date('2030-01-01T02:00:00Z')));
    const back = new Date('2030-01-01T02:01:00Z');
    const moved = await uow.run((r) => r.workers.transition([a.id, b.id], ['lost'], 'online', back));
    expect(moved.map((w) => w.id)).toEqual([a.id]);
    expect(moved[0]).toMatchObject({ status: 'online', lastSeenAt: back });
  });

  it('transition with no ids moves nothing', async () => {
    expect(await uow.run((r) => r.workers.transition([], ['online'], 'lost', new Date()))).toEqual([]);
  });

  it('concurrent conflicting transitions of one worker: exactly one wins', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const w = await register(token);
    const at = new Date('2030-01-01T03:00:00Z');
    // the reaper (online → lost) races a deregistration (online → offline)
    const [lost, offline] = await Promise.all([
      uow.run((r) => r.workers.transition([w.id], ['online'], 'lost', at)),
      uow.run((r) => r.workers.transition([w.id], ['online'], 'offline', at)),
    ]);
    expect(lost.length + offline.length).toBe(1);
  });

  it('setScheduling is scoped by organization: another organization gets undefined and changes nothing', async () => {
    const [orgA, orgB] = [await newOrganization(), await newOrganization()];
    const w = await register(await newToken(orgA));
    expect(await uow.run((r) => r.workers.setScheduling(orgB, w.id, 'draining'))).toBeUndefined();
    expect((await uow.run((r) => r.workers.findById(orgA, w.id)))?.scheduling).toBe('active');

    const drained = await uow.run((r) => r.workers.setScheduling(orgA, w.id, 'draining'));
    expect(drained).toMatchObject({ id: w.id, scheduling: 'draining', status: 'online' });
  });

  it('findById is scoped by organization', async () => {
    const [orgA, orgB] = [await newOrganization(), await newOrganization()];
    const w = await register(await newToken(orgA));
    expect(await uow.run((r) => r.workers.findById(orgB, w.id))).toBeUndefined();
    expect((await uow.run((r) => r.workers.findById(orgA, w.id)))?.id).toBe(w.id);
  });

  it("list filters by status and pool, pages, and never returns another organization's workers", async () => {
    const [orgA, orgB] = [await newOrganization(), await newOrganization()];
    const tokenA = await newToken(orgA);
    const gpu = await register(tokenA, {
      pools: ['default', 'gpu'],
      registeredAt: new Date('2030-01-01T00:00:03Z'),
    });
    const plain = await register(tokenA, {
      pools: ['default'],
      registeredAt: new Date('2030-01-01T00:00:02Z'),
    });
    const gone = await register(tokenA, { pools: ['gpu'], registeredAt: new Date('2030-01-01T00:00:01Z') });
    await uow.run((r) => r.workers.transition([gone.id], ['online'], 'offline', new Date()));
    await register(await newToken(orgB), { pools: ['default', 'gpu'] });

    const page = { limit: 50, offset: 0 };
    const all = await uow.run((r) => r.workers.list(orgA, {}, page));
    expect(all.total).toBe(3);
    // newest registration first
    expect(all.items.map((w) => w.id)).toEqual([gpu.id, plain.id, gone.id]);
    expect(all.items.every((w) => w.organizationId === orgA)).toBe(true);

    const online = await uow.run((r) => r.workers.list(orgA, { status: 'online' }, page));
    expect(online.items.map((w) => w.id)).toEqual([gpu.id, plain.id]);

    const inGpu = await uow.run((r) => r.workers.list(orgA, { pool: 'gpu' }, page));
    expect(inGpu.items.map((w) => w.id)).toEqual([gpu.id, gone.id]);

    const onlineGpu = await uow.run((r) => r.workers.list(orgA, { status: 'online', pool: 'gpu' }, page));
    expect(onlineGpu).toEqual({ items: [expect.objectContaining({ id: gpu.id })], total: 1 });

    const second = await uow.run((r) => r.workers.list(orgA, {}, { limit: 1, offset: 1 }));
    expect(second.total).toBe(3);
    expect(second.items.map((w) => w.id)).toEqual([plain.id]);

    const empty = await newOrganization();
    const none = await uow.run((r) => r.workers.list(empty, {}, page));
    expect(none).toEqual({ items: [], total: 0 });
  });

  it("activeByToken returns the token's online and lost workers, not offline ones nor other tokens'", async () => {
    const org = await newOrganization();
    const [token, other] = [await newToken(org), await newToken(org)];
    const online = await register(token);
    const lost = await register(token);
    const offline = await register(token);
    await register(other);
    await uow.run((r) => r.workers.transition([lost.id], ['online'], 'lost', new Date()));
    await uow.run((r) => r.workers.transition([offline.id], ['online'], 'offline', new Date()));
    const active = await uow.run((r) => r.workers.activeByToken(token.id));
    expect(active.map((w) => w.id).sort()).toEqual([online.id, lost.id].sort());
    expect(active.find((w) => w.id === lost.id)?.status).toBe('lost');
  });

  it("withStaleSettings finds online workers whose pools, capabilities, concurrency or token labels are not their token's", async () => {
    const org = await newOrganization();
    const token = await newToken(org, { pools: ['default', 'gpu'] });
    const current = await register(token, { pools: ['gpu', 'default'], labels: { zone: 'a', own: 'x' } });
    const oldPools = await register(token, { pools: ['default'] });
    const oldConcurrency = await register(token, { pools: ['default', 'gpu'], concurrency: 1 });
    // 3 slots cap the token's 2: concurrency 2 is current; its own labels beside the token's are fine
    const capped = await register(token, {
      pools: ['default', 'gpu'],
      capacity: { memory_mb: 1024, cpus: 2, slots: 1 },
      concurrency: 1,
    });
    const oldLabels = await register(token, { pools: ['default', 'gpu'], labels: { zone: 'b' } });
    const lostOne = await register(token, { pools: ['default'] });
    const recent = await register(token, {
      pools: ['default'],
      registeredAt: new Date('2031-06-01T00:00:00Z'),
    });
    await uow.run((r) => r.workers.transition([lostOne.id], ['online'], 'lost', new Date()));
    const stale = await uow.run((r) => r.workers.withStaleSettings(new Date('2031-01-01T00:00:00Z'), 100));
    expect(stale).toEqual(expect.arrayContaining([oldPools.id, oldConcurrency.id, oldLabels.id]));
    for (const fine of [current, capped, lostOne, recent]) expect(stale).not.toContain(fine.id);

    await uow.run((r) => r.workerTokens.revoke(org, token.id, new Date()));
    const afterRevoke = await uow.run((r) =>
      r.workers.withStaleSettings(new Date('2031-01-01T00:00:00Z'), 100),
    );
    expect(afterRevoke).not.toContain(oldPools.id);
  });

  it('lostIds returns lost workers of every organization and nothing else', async () => {
    const [orgA, orgB] = [await newOrganization(), await newOrganization()];
    const lostA = await register(await newToken(orgA));
    const lostB = await register(await newToken(orgB));
    const online = await register(await newToken(orgA));
    const offline = await register(await newToken(orgB));
    await uow.run((r) => r.workers.transition([lostA.id, lostB.id], ['online'], 'lost', new Date()));
    await uow.run((r) => r.workers.transition([offline.id], ['online'], 'offline', new Date()));
    const ids = await uow.run((r) => r.workers.lostIds());
    expect(ids).toEqual(expect.arrayContaining([lostA.id, lostB.id]));
    expect(ids).not.toContain(online.id);
    expect(ids).not.toContain(offline.id);
  });

  it('a registration is rolled back with the transaction that made it', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const fields = registration(token);
    await expect(
      uow.run(async (r) => {
        await r.workers.upsertRegistration(fields);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await uow.run((r) => r.workers.activeByToken(token.id))).toEqual([]);
  });
});

describe('TypeormWorkerTokenRepository', () => {
  it('create returns the stored token with defaults and findByPrefix finds it across organizations', async () => {
    const org = await newOrganization();
    const token = await newToken(org, { pools: ['gpu'] });
    expect(token).toMatchObject({
      organizationId: org,
      pools: ['gpu'],
      revokedAt: null,
      lastUsedAt: null,
      workerId: null,
    });
    expect(token.createdAt).toBeInstanceOf(Date);
    expect((await uow.run((r) => r.workerTokens.findByPrefix(token.prefix)))?.id).toBe(token.id);
    expect(await uow.run((r) => r.workerTokens.findByPrefix('nosuchprefix'))).toBeUndefined();
  });

  it('revoke is conditional: the first revoke returns the token, a second returns undefined and keeps the first time', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const at = new Date('2030-02-01T00:00:00Z');
    const revoked = await uow.run((r) => r.workerTokens.revoke(org, token.id, at));
    expect(revoked).toMatchObject({ id: token.id, revokedAt: at });
    expect(
      await uow.run((r) => r.workerTokens.revoke(org, token.id, new Date('2030-03-01T00:00:00Z'))),
    ).toBeUndefined();
    expect((await uow.run((r) => r.workerTokens.findById(org, token.id)))?.revokedAt).toEqual(at);
  });

  it('concurrent revokes of one token: exactly one returns it', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => uow.run((r) => r.workerTokens.revoke(org, token.id, new Date()))),
    );
    expect(results.filter((t) => t !== undefined)).toHaveLength(1);
  });

  it('revoke and findById are scoped by organization', async () => {
    const [orgA, orgB] = [await newOrganization(), await newOrganization()];
    const token = await newToken(orgA);
    expect(await uow.run((r) => r.workerTokens.findById(orgB, token.id))).toBeUndefined();
    expect(await uow.run((r) => r.workerTokens.revoke(orgB, token.id, new Date()))).toBeUndefined();
    const found = await uow.run((r) => r.workerTokens.findById(orgA, token.id));
    expect(found).toMatchObject({ id: token.id, revokedAt: null });
  });

  it("list returns only the organization's tokens, oldest first, with the total", async () => {
    const [orgA, orgB] = [await newOrganization(), await newOrganization()];
    const first = await newToken(orgA);
    const second = await newToken(orgA);
    await newToken(orgB);
    const all = await uow.run((r) => r.workerTokens.list(orgA, { limit: 10, offset: 0 }));
    expect(all.total).toBe(2);
    expect(all.items.map((t) => t.id)).toEqual([first.id, second.id]);
    const page = await uow.run((r) => r.workerTokens.list(orgA, { limit: 1, offset: 1 }));
    expect(page).toEqual({ items: [expect.objectContaining({ id: second.id })], total: 2 });
  });

  it('recordUse stores the time and the worker that used the token', async () => {
    const org = await newOrganization();
    const token = await newToken(org);
    const w = await register(token);
    const at = new Date('2030-04-01T00:00:00Z');
    await uow.run((r) => r.workerTokens.recordUse(token.id, w.id, at));
    expect(await uow.run((r) => r.workerTokens.findById(org, token.id))).toMatchObject({
      lastUsedAt: at,
      workerId: w.id,
    });
  });

  it('deadWithActiveWorkers returns revoked or expired tokens that still have workers not offline, and no others', async () => {
    const at = new Date('2030-05-01T00:00:00Z');
    const [orgA, orgB] = [await newOrganization(), await newOrganization()];

    const revokedOnline = await newToken(orgA);
    await register(revokedOnline);
    await register(revokedOnline);
    await uow.run((r) => r.workerTokens.revoke(orgA, revokedOnline.id, new Date('2030-04-01T00:00:00Z')));

    const expiredLost = await newToken(orgB, { expiresAt: new Date('2030-04-30T00:00:00Z') });
    const lost = await register(expiredLost);
    await uow.run((r) => r.workers.transition([lost.id], ['online'], 'lost', at));

    const expiringNow = await newToken(orgA, { expiresAt: at }); // expiry is inclusive
    await register(expiringNow);

    const revokedOffline = await newToken(orgA);
    const off = await register(revokedOffline);
    await uow.run((r) => r.workers.transition([off.id], ['online'], 'offline', at));
    await uow.run((r) => r.workerTokens.revoke(orgA, revokedOffline.id, at));

    const revokedNoWorkers = await newToken(orgA);
    await uow.run((r) => r.workerTokens.revoke(orgA, revokedNoWorkers.id, at));

    const liveToken = await newToken(orgA);
    await register(liveToken);
    const notYetExpired = await newToken(orgB, { expiresAt: new Date('2030-05-01T00:00:01Z') });
    await register(notYetExpired);

    const dead = await uow.run((r) => r.workerTokens.deadWithActiveWorkers(at));
    const ids = dead.map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining([revokedOnline.id, expiredLost.id, expiringNow.id]));
    for (const t of [revokedOffline, revokedNoWorkers, liveToken, notYetExpired])
      expect(ids).not.toContain(t.id);
    // each token once, however many active workers it has
    expect(new Set(ids).size).toBe(ids.length);
    expect(dead.find((t) => t.id === revokedOnline.id)?.revokedAt).toBeInstanceOf(Date);
  });
});
