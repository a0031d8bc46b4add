import {
  type ApiError,
  createApiKey,
  createOrganization,
  createWorkerToken,
  registerWorker,
  registration,
} from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

/**
 * ARCHITECTURE.md §5: a caller never sees another organization's rows — a 404, not a 403 — proven per
 * endpoint. Organization A is the bootstrapped `default`; B is created through the API.
 */
describe('tenant isolation (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };
  let b: { id: string; adminKey: string; adminKeyId: string };
  /** Objects of organization A. */
  const a = {} as {
    userId: string;
    apiKeyId: string;
    apiKey: string;
    tokenId: string;
    token: string;
    workerId: string;
  };
  /** Objects of organization B. */
  const bObj = {} as { userId: string; tokenId: string; token: string; workerId: string; apiKeyId: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
    b = await createOrganization(cp, 'tenant-b');

    const user = await cp
      .as(cp.adminKey)
      .post('/api/v1/users', { email: 'alice@a.example', name: 'Alice' })
      .expect(201);
    a.userId = user.body.id;
    const key = await createApiKey(cp, cp.adminKey, { name: 'a-operator', role: 'operator' });
    a.apiKeyId = key.id;
    a.apiKey = key.key;
    const token = await createWorkerToken(cp, cp.adminKey, { name: 'a-token' });
    a.tokenId = token.id;
    a.token = token.token;
    a.workerId = (await registerWorker(cp, a.token, 'a-worker')).worker_id;

    const bUser = await cp.as(b.adminKey).post('/api/v1/users', { email: 'bob@b.example' }).expect(201);
    bObj.userId = bUser.body.id;
    bObj.apiKeyId = (await createApiKey(cp, b.adminKey, { name: 'b-viewer', role: 'viewer' })).id;
    const bToken = await createWorkerToken(cp, b.adminKey, { name: 'b-token' });
    bObj.tokenId = bToken.id;
    bObj.token = bToken.token;
    bObj.workerId = (await registerWorker(cp, bObj.token, 'b-worker')).worker_id;
  });
  afterAll(async () => {
    await cp.close();
  });

  const asB = () => cp.as(b.adminKey);
  const asA = () => cp.as(cp.adminKey);
  const NOBODY = '00000000-0000-4000-8000-000000000000';

  /** The other organization's object and an id that exists nowhere must get the same answer. */
  async function expectHidden(
    res: { status: number; body: ApiError },
    nowhere: { status: number; body: ApiError },
  ) {
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
    expect(nowhere.status).toBe(404);
    expect(res.body.error).toBe(nowhere.body.error);
  }

  describe('organizations', () => {
    it('creates an organization with a first admin key that belongs to it alone', async () => {
      const org = await asB().get('/api/v1/organizations/current').expect(200);
      expect(org.body).toMatchObject({ id: b.id, name: 'tenant-b', is_active: true });
      const keys = await asB().get('/api/v1/api-keys').expect(200);
      const first = keys.body.items.find((k: { id: string }) => k.id === b.adminKeyId);
      expect(first).toMatchObject({ organization_id: b.id, role: 'admin', instance_admin: false });
    });

    it('refuses a second organization of the same name with 409', async () => {
      const res = await asA().post('/api/v1/organizations', { name: 'tenant-b' }).expect(409);
      expect((res.body as ApiError).errors?.[0]?.field).toBe('name');
    });

    it('answers concurrent creates of one name with one 201 and 409s, never a 500', async () => {
      const orgs = await Promise.all(
        Array.from({ length: 6 }, () => asA().post('/api/v1/organizations', { name: 'raced-org' })),
      );
      expect(orgs.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      for (const r of orgs.filter((x) => x.status === 409)) {
        expect((r.body as ApiError).errors?.[0]?.field).toBe('name');
      }
      const users = await Promise.all(
        Array.from({ length: 6 }, () => asB().post('/api/v1/users', { email: 'raced@b.example' })),
      );
      expect(users.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      for (const r of users.filter((x) => x.status === 409)) {
        expect((r.body as ApiError).errors?.[0]?.field).toBe('email');
      }
      // the same email in another organization is no conflict
      await asA().post('/api/v1/users', { email: 'raced@b.example' }).expect(201);
    });

    it('lets only the instance-admin key list and create organizations (403 otherwise)', async () => {
      const all = await asA().get('/api/v1/organizations').expect(200);
      expect(all.body.items.map((o: { id: string }) => o.id)).toEqual(
        expect.arrayContaining([cp.organizationId, b.id]),
      );
      await asB().get('/api/v1/organizations').expect(403);
      await asB().post('/api/v1/organizations', { name: 'tenant-c' }).expect(403);
      // an admin-role key of the instance admin's own organization is not an instance admin either
      const plainAdmin = await createApiKey(cp, cp.adminKey, { role: 'admin' });
      await cp.as(plainAdmin.key).get('/api/v1/organizations').expect(403);
      await cp.as(plainAdmin.key).post('/api/v1/organizations', { name: 'tenant-d' }).expect(403);
      const after = await asA().get('/api/v1/organizations').expect(200);
      expect(after.body.total).toBe(all.body.total);
    });
  });

  describe("another organization's objects are 404, never 403", () => {
    it('users: get and update', async () => {
      await expectHidden(
        await asB().get(`/api/v1/users/${a.userId}`),
        await asB().get(`/api/v1/users/${NOBODY}`),
      );
      await expectHidden(
        await asB().patch(`/api/v1/users/${a.userId}`, { name: 'Mallory' }),
        await asB().patch(`/api/v1/users/${NOBODY}`, { name: 'Mallory' }),
      );
      const still = await asA().get(`/api/v1/users/${a.userId}`).expect(200);
      expect(still.body.name).toBe('Alice');
    });

    it('API keys: get and revoke', async () => {
      await expectHidden(
        await asB().get(`/api/v1/api-keys/${a.apiKeyId}`),
        await asB().get(`/api/v1/api-keys/${NOBODY}`),
      );
      await expectHidden(
        await asB().delete(`/api/v1/api-keys/${a.apiKeyId}`),
        await asB().delete(`/api/v1/api-keys/${NOBODY}`),
      );
      await cp.as(a.apiKey).get('/api/v1/worker-tokens').expect(200);
    });

    it('worker tokens: get and revoke', async () => {
      await expectHidden(
        await asB().get(`/api/v1/worker-tokens/${a.tokenId}`),
        await asB().get(`/api/v1/worker-tokens/${NOBODY}`),
      );
      await expectHidden(
        await asB().delete(`/api/v1/worker-tokens/${a.tokenId}`),
        await asB().delete(`/api/v1/worker-tokens/${NOBODY}`),
      );
      const still = await asA().get(`/api/v1/worker-tokens/${a.tokenId}`).expect(200);
      expect(still.body.state).toBe('active');
      await cp.as(a.token).post('/api/v1/workers/register', registration('a-worker')).expect(200);
    });

    it('admin workers: get, drain, cordon and uncordon', async () => {
      await expectHidden(
        await asB().get(`/api/v1/admin/workers/${a.workerId}`),
        await asB().get(`/api/v1/admin/workers/${NOBODY}`),
      );
      for (const command of ['drain', 'cordon', 'uncordon']) {
        await expectHidden(
          await asB().post(`/api/v1/admin/workers/${a.workerId}/${command}`),
          await asB().post(`/api/v1/admin/workers/${NOBODY}/${command}`),
        );
      }
      const w = await asA().get(`/api/v1/admin/workers/${a.workerId}`).expect(200);
      expect(w.body.scheduling).toBe('active');
    });

    it("workers: another organization's worker token cannot deregister the worker", async () => {
      await expectHidden(
        await cp.as(bObj.token).post(`/api/v1/workers/${a.workerId}/deregister`, {}),
        await cp.as(bObj.token).post(`/api/v1/workers/${NOBODY}/deregister`, {}),
      );
      const w = await asA().get(`/api/v1/admin/workers/${a.workerId}`).expect(200);
      expect(w.body.status).toBe('online');
    });

    it("API keys cannot be bound to another organization's user", async () => {
      const res = await asB()
        .post('/api/v1/api-keys', { name: 'x', role: 'viewer', user_id: a.userId })
        .expect(400);
      expect((res.body as ApiError).errors?.[0]?.field).toBe('user_id');
    });

    it('the same holds in the other direction (A cannot reach B)', async () => {
      await asA().get(`/api/v1/users/${bObj.userId}`).expect(404);
      await asA().get(`/api/v1/api-keys/${bObj.apiKeyId}`).expect(404);
      await asA().get(`/api/v1/worker-tokens/${bObj.tokenId}`).expect(404);
      await asA().get(`/api/v1/admin/workers/${bObj.workerId}`).expect(404);
      await asA().post(`/api/v1/admin/workers/${bObj.workerId}/drain`).expect(404);
      await cp.as(a.token).post(`/api/v1/workers/${bObj.workerId}/deregister`, {}).expect(404);
    });
  });

  describe('lists and the audit log', () => {
    const ids = (res: { body: { items: { id: string }[] } }) => res.body.items.map((i) => i.id);

    it("lists never include the other organization's rows", async () => {
      const cases: [string, string, string][] = [
        ['/api/v1/users?limit=200', a.userId, bObj.userId],
        ['/api/v1/api-keys?limit=200', a.apiKeyId, bObj.apiKeyId],
        ['/api/v1/worker-tokens?limit=200', a.tokenId, bObj.tokenId],
        ['/api/v1/admin/workers?limit=200', a.workerId, bObj.workerId],
      ];
      for (const [path, ofA, ofB] of cases) {
        const inA = await asA().get(path).expect(200);
        const inB = await asB().get(path).expect(200);
        expect(ids(inA)).toContain(ofA);
        expect(ids(inA)).not.toContain(ofB);
        expect(ids(inB)).toContain(ofB);
        expect(ids(inB)).not.toContain(ofA);
        for (const item of inA.body.items) expect(item.organization_id).toBe(cp.organizationId);
        for (const item of inB.body.items) expect(item.organization_id).toBe(b.id);
        expect(inB.body.total).toBe(inB.body.items.length);
      }
    });

    it("the audit log of one organization never shows the other's entries", async () => {
      const logA = await asA().get('/api/v1/admin/audit-log?limit=200').expect(200);
      const logB = await asB().get('/api/v1/admin/audit-log?limit=200').expect(200);
      expect(logA.body.total).toBe(logA.body.items.length);
      expect(logB.body.total).toBe(logB.body.items.length);
      for (const e of logA.body.items) expect(e.organization_id).toBe(cp.organizationId);
      for (const e of logB.body.items) expect(e.organization_id).toBe(b.id);
      const resourcesOfA = new Set(logA.body.items.map((e: { resource_id: string }) => e.resource_id));
      const resourcesOfB = new Set(logB.body.items.map((e: { resource_id: string }) => e.resource_id));
      for (const id of [a.userId, a.apiKeyId, a.tokenId, a.workerId]) {
        expect(resourcesOfA.has(id)).toBe(true);
        expect(resourcesOfB.has(id)).toBe(false);
      }
      for (const id of [bObj.userId, bObj.apiKeyId, bObj.tokenId, bObj.workerId]) {
        expect(resourcesOfB.has(id)).toBe(true);
        expect(resourcesOfA.has(id)).toBe(false);
      }
      // filtering by the other organization's object finds nothing
      const filtered = await asB().get(`/api/v1/admin/audit-log?resource_id=${a.workerId}`).expect(200);
      expect(filtered.body).toEqual({ items: [], total: 0 });
    });

    it("shows the new organization's first key in its own log, and its creation in the instance admin's", async () => {
      const logB = await asB().get('/api/v1/admin/audit-log?action=api_key.created&limit=200').expect(200);
      expect(logB.body.items.map((e: { resource_id: string }) => e.resource_id)).toContain(b.adminKeyId);
      const logA = await asA()
        .get(`/api/v1/admin/audit-log?action=organization.created&resource_id=${b.id}`)
        .expect(200);
      expect(logA.body.total).toBe(1);
    });

    it('refused cross-tenant calls leave no audit entries behind', async () => {
      const logB = await asB().get('/api/v1/admin/audit-log?limit=200').expect(200);
      const logA = await asA().get('/api/v1/admin/audit-log?limit=200').expect(200);
      const actions = [...logA.body.items, ...logB.body.items]
        .filter((e: { resource_id: string }) => [a.userId, a.apiKeyId, a.tokenId].includes(e.resource_id))
        .map((e: { action: string }) => e.action);
      expect(actions).not.toContain('user.updated');
      expect(actions).not.toContain('api_key.revoked');
      expect(actions).not.toContain('worker_token.revoked');
      const workerActions = logA.body.items
        .filter((e: { resource_id: string }) => e.resource_id === a.workerId)
        .map((e: { action: string }) => e.action);
      expect(workerActions.every((x: string) => x === 'worker.registered')).toBe(true);
    });
  });
});
