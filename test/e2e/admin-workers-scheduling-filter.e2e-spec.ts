import {
  type ApiError,
  createApiKey,
  createOrganization,
  createWorkerToken,
  registerWorker,
} from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

/**
 * GET /api/v1/admin/workers?scheduling=active|cordoned|draining: which workers an operator left out of
 * scheduling (docs/runbook.md: AgentFleetPoolWithoutWorkers).
 */
describe('listing workers by scheduling (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };
  const ids = {} as { active: string; cordoned: string; draining: string; otherPool: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
    const token = await createWorkerToken(cp, cp.adminKey, { name: 'sched', pools: ['sched-pool'] });
    const other = await createWorkerToken(cp, cp.adminKey, { name: 'other', pools: ['other-pool'] });
    ids.active = (await registerWorker(cp, token.token, 'w-active')).worker_id;
    ids.cordoned = (await registerWorker(cp, token.token, 'w-cordoned')).worker_id;
    ids.draining = (await registerWorker(cp, token.token, 'w-draining')).worker_id;
    ids.otherPool = (await registerWorker(cp, other.token, 'w-other')).worker_id;
    await cp.as(cp.adminKey).post(`/api/v1/admin/workers/${ids.cordoned}/cordon`).expect(200);
    await cp.as(cp.adminKey).post(`/api/v1/admin/workers/${ids.draining}/drain`).expect(200);
    await cp.as(cp.adminKey).post(`/api/v1/admin/workers/${ids.otherPool}/cordon`).expect(200);
  });
  afterAll(async () => {
    await cp.close();
  });

  const list = async (key: string, query: string) => {
    const res = await cp.as(key).get(`/api/v1/admin/workers?${query}`).expect(200);
    const body = res.body as { items: { id: string; scheduling: string }[]; total: number };
    return { ids: body.items.map((w) => w.id).sort(), total: body.total, items: body.items };
  };

  it('lists only the workers with the scheduling asked for, with a total that counts only them', async () => {
    expect(await list(cp.adminKey, 'scheduling=draining')).toMatchObject({ ids: [ids.draining], total: 1 });
    expect(await list(cp.adminKey, 'scheduling=active')).toMatchObject({ ids: [ids.active], total: 1 });
    const cordoned = await list(cp.adminKey, 'scheduling=cordoned');
    expect(cordoned.ids).toEqual([ids.cordoned, ids.otherPool].sort());
    expect(cordoned.items.every((w) => w.scheduling === 'cordoned')).toBe(true);
    expect((await list(cp.adminKey, '')).total).toBe(4);
  });

  it('combines with the pool and status filters', async () => {
    expect(await list(cp.adminKey, 'scheduling=cordoned&pool=sched-pool')).toMatchObject({
      ids: [ids.cordoned],
      total: 1,
    });
    expect(await list(cp.adminKey, 'scheduling=cordoned&status=online&pool=other-pool')).toMatchObject({
      ids: [ids.otherPool],
      total: 1,
    });
    expect(await list(cp.adminKey, 'scheduling=draining&status=lost')).toMatchObject({ ids: [], total: 0 });
  });

  it('refuses an unknown scheduling with 400 naming the field', async () => {
    const res = await cp.as(cp.adminKey).get('/api/v1/admin/workers?scheduling=paused').expect(400);
    expect((res.body as ApiError).errors?.map((e) => e.field)).toEqual(['scheduling']);
  });

  it("never lists another organization's workers", async () => {
    const b = await createOrganization(cp, 'sched-tenant-b');
    for (const s of ['active', 'cordoned', 'draining']) {
      expect(await list(b.adminKey, `scheduling=${s}`)).toMatchObject({ ids: [], total: 0 });
    }
  });

  it('takes the workers:read scope', async () => {
    const viewer = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
    await cp.as(viewer.key).get('/api/v1/admin/workers?scheduling=cordoned').expect(403);
  });
});
