import {
  type ApiError,
  createApiKey,
  createOrganization,
  createWorkerToken,
  registerWorker,
  totalOf,
} from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

/**
 * PATCH /api/v1/worker-tokens/{id}: an operator changes a live token's name, pools, capabilities,
 * max_concurrent_tasks and labels (docs/runbook.md: AgentFleetQueueBacklogOld, AgentFleetPoolWithoutWorkers).
 * Workers take a token's settings when they register; a running worker is told to register again
 * (test/e2e/worker-token-reload.e2e-spec.ts runs that with a real worker).
 */
describe('changing a worker token (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };
  let other: { id: string; adminKey: string };
  let token: { id: string; token: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
    other = await createOrganization(cp, 'token-tenant-b');
    token = await createWorkerToken(cp, cp.adminKey, {
      name: 'fleet-a',
      pools: ['default'],
      capabilities: ['execute'],
      max_concurrent_tasks: 2,
      labels: { zone: 'a' },
    });
  });
  afterAll(async () => {
    await cp.close();
  });

  const admin = () => cp.as(cp.adminKey);
  const path = () => `/api/v1/worker-tokens/${token.id}`;
  const snapshot = async () => ({
    token: (await admin().get(path()).expect(200)).body as Record<string, unknown>,
    audit: await totalOf(cp, cp.adminKey, '/api/v1/admin/audit-log'),
  });

  it('changes pools, capabilities, max_concurrent_tasks, labels and name; a worker takes them when it registers again', async () => {
    const first = await registerWorker(cp, token.token, 'w-1');
    expect(first).toMatchObject({ pools: ['default'], concurrency: 2 });

    const res = await admin()
      .patch(path(), {
        name: 'fleet-a-gpu',
        pools: ['default', 'gpu'],
        capabilities: ['execute', 'ingest'],
        max_concurrent_tasks: 6,
        labels: { zone: 'b' },
      })
      .expect(200);
    expect(res.body).toMatchObject({
      id: token.id,
      name: 'fleet-a-gpu',
      pools: ['default', 'gpu'],
      capabilities: ['execute', 'ingest'],
      max_concurrent_tasks: 6,
      labels: { zone: 'b' },
      state: 'active',
    });
    expect(res.body).not.toHaveProperty('token');
    expect(res.body).not.toHaveProperty('token_hash');

    // the running worker keeps what it registered with: heartbeats check revocation and expiry only
    const before = (await admin().get(`/api/v1/admin/workers/${first.worker_id}`).expect(200)).body;
    expect(before).toMatchObject({ pools: ['default'], capabilities: ['execute'], concurrency: 2 });

    const again = await registerWorker(cp, token.token, 'w-1');
    expect(again.worker_id).toBe(first.worker_id);
    expect(again).toMatchObject({
      pools: ['default', 'gpu'],
      capabilities: ['execute', 'ingest'],
      concurrency: 6,
    });
    expect(again['queues']).toEqual(expect.arrayContaining(['execution-default', 'execution-gpu']));
    const after = (await admin().get(`/api/v1/admin/workers/${first.worker_id}`).expect(200)).body;
    expect(after).toMatchObject({ pools: ['default', 'gpu'], concurrency: 6, labels: { zone: 'b' } });

    const audit = await admin()
      .get(`/api/v1/admin/audit-log?action=worker_token.updated&resource_id=${token.id}`)
      .expect(200);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0].details).toMatchObject({
      changes: {
        name: { from: 'fleet-a', to: 'fleet-a-gpu' },
        pools: { from: ['default'], to: ['default', 'gpu'] },
        max_concurrent_tasks: { from: 2, to: 6 },
      },
    });
  });

  it('applies concurrent partial changes one after the other, losing none', async () => {
    await Promise.all([
      admin().patch(path(), { max_concurrent_tasks: 3 }).expect(200),
      admin()
        .patch(path(), { labels: { zone: 'c' } })
        .expect(200),
      admin()
        .patch(path(), { pools: ['gpu'] })
        .expect(200),
    ]);
    expect((await admin().get(path()).expect(200)).body).toMatchObject({
      max_concurrent_tasks: 3,
      labels: { zone: 'c' },
      pools: ['gpu'],
    });
  });

  describe('refusals write nothing', () => {
    it.each([
      ['max_concurrent_tasks', { max_concurrent_tasks: 0 }],
      ['pools', { pools: [] }],
      ['pools.0', { pools: ['Not A Pool'] }],
      ['pools', { pools: ['gpu', 'gpu'] }],
      ['capabilities.0', { capabilities: ['fly'] }],
      ['labels', { labels: 'zone=a' }],
      ['name', { name: '' }],
      ['expires_at', { expires_at: '2999-01-01T00:00:00Z' }],
      ['(body)', {}],
    ])('refuses bad input with 400 naming %s', async (field, body) => {
      const before = await snapshot();
      const res = await admin().patch(path(), body).expect(400);
      expect((res.body as ApiError).errors?.map((e) => e.field)).toContain(field);
      expect(await snapshot()).toEqual(before);
    });

    it('takes the worker-tokens:write scope (403 otherwise)', async () => {
      const viewer = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
      const before = await snapshot();
      await cp.as(viewer.key).patch(path(), { max_concurrent_tasks: 9 }).expect(403);
      expect(await snapshot()).toEqual(before);
      const operator = await createApiKey(cp, cp.adminKey, { role: 'operator' });
      await cp.as(operator.key).patch(path(), { max_concurrent_tasks: 9 }).expect(200);
    });

    it("answers another organization's token with 404, as for an id that exists nowhere", async () => {
      const before = await snapshot();
      const res = await cp
        .as(other.adminKey)
        .patch(path(), { pools: ['stolen'] })
        .expect(404);
      expect((res.body as ApiError).error).toBe('not_found');
      await cp
        .as(other.adminKey)
        .patch('/api/v1/worker-tokens/00000000-0000-4000-8000-000000000000', { pools: ['x'] })
        .expect(404);
      expect(await snapshot()).toEqual(before);
    });

    it('refuses a revoked token with 409', async () => {
      const revoked = await createWorkerToken(cp, cp.adminKey, { name: 'to-revoke' });
      await admin().delete(`/api/v1/worker-tokens/${revoked.id}`).expect(200);
      const auditBefore = await totalOf(cp, cp.adminKey, '/api/v1/admin/audit-log');
      const res = await admin()
        .patch(`/api/v1/worker-tokens/${revoked.id}`, { max_concurrent_tasks: 9 })
        .expect(409);
      expect((res.body as ApiError).message).toMatch(/revoked/);
      const stored = (await admin().get(`/api/v1/worker-tokens/${revoked.id}`).expect(200)).body;
      expect(stored).toMatchObject({ max_concurrent_tasks: 4, state: 'revoked' });
      expect(await totalOf(cp, cp.adminKey, '/api/v1/admin/audit-log')).toBe(auditBefore);
    });
  });
});
