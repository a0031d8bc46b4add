import { randomUUID } from 'node:crypto';
import { type ApiError, createApiKey, createOrganization, totalOf } from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

/**
 * POST /api/v1/jobs/batch: up to 100 jobs in one request, validated and stored in one transaction —
 * all of them or none — and enqueued together. No worker runs here: the jobs stay queued, which is
 * what lets the test count them in their pool's queue.
 */
describe('batch job submission (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };
  let other: { id: string; adminKey: string };
  const pool = `batch-${randomUUID().slice(0, 8)}`;
  let target: { id: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
    other = await createOrganization(cp, 'batch-tenant-b');
    target = (
      await admin()
        .post('/api/v1/execution-targets', {
          name: 'proc',
          type: 'process',
          worker_pool: pool,
          capacity: { max_memory_mb: 512, max_cpu: 2, max_concurrent: 4 },
          allowed_images: ['agentfleet/*'],
        })
        .expect(201)
    ).body;
  });
  afterAll(async () => {
    await cp.close();
  });

  const admin = () => cp.as(cp.adminKey);
  const noop = (over: Record<string, unknown> = {}) => ({ command: ['agentfleet:noop'], pool, ...over });
  type Item = { created: boolean; job: { id: string; status: string; priority: number; pool: string } };

  /** Jobs waiting in the pool's queue (BullMQ keeps prioritized ones apart from plain waiting ones). */
  const queued = async () => {
    const res = await admin().get('/api/v1/admin/queues').expect(200);
    const stats = (res.body.items as { pool: string; counts: Record<string, number> }[]).find(
      (q) => q.pool === pool,
    );
    return (stats?.counts['waiting'] ?? 0) + (stats?.counts['prioritized'] ?? 0);
  };
  /** What a refused batch must leave as it was: jobs, audit entries and the queue. */
  const snapshot = async () => ({
    jobs: await totalOf(cp, cp.adminKey, '/api/v1/jobs'),
    audit: await totalOf(cp, cp.adminKey, '/api/v1/admin/audit-log'),
    queued: await queued(),
  });
  const refused = async (body: unknown, status: number, key = cp.adminKey): Promise<ApiError> => {
    const before = await snapshot();
    const res = await cp.as(key).post('/api/v1/jobs/batch', body);
    expect(res.status).toBe(status);
    expect(await snapshot()).toEqual(before);
    return res.body as ApiError;
  };

  it('stores and enqueues every job of the batch, answering 201 with the items in request order', async () => {
    const before = await snapshot();
    const res = await admin()
      .post('/api/v1/jobs/batch', { jobs: [noop(), noop({ priority: 7 }), noop({ priority: 3 })] })
      .expect(201);
    const items = res.body.items as Item[];
    expect(items.map((i) => [i.created, i.job.status, i.job.priority, i.job.pool])).toEqual([
      [true, 'queued', 100, pool],
      [true, 'queued', 7, pool],
      [true, 'queued', 3, pool],
    ]);
    expect(await snapshot()).toEqual({
      jobs: before.jobs + 3,
      audit: before.audit + 3,
      queued: before.queued + 3,
    });
    for (const { job } of items) {
      expect((await admin().get(`/api/v1/jobs/${job.id}`).expect(200)).body).toMatchObject({
        id: job.id,
        status: 'queued',
      });
    }
  });

  it('refuses the whole batch when one job breaks a rule of its target, naming jobs.N.field; nothing stored', async () => {
    const body = await refused({ jobs: [noop(), noop(), noop({ memory_limit_mb: 4096 })] }, 400);
    expect(body.errors?.[0]?.field).toBe('jobs.2.memory_limit_mb');
    expect(body.message).toMatch(/^jobs\.2: memory_limit_mb 4096 exceeds the cap of target proc/);
  });

  it('refuses a schema error in one job naming jobs.N.field, and an unknown pool naming jobs.N.pool', async () => {
    const schema = await refused({ jobs: [noop(), noop({ command: 'echo hi' })] }, 400);
    expect(schema.errors?.map((e) => e.field)).toEqual(['jobs.1.command']);
    const unknownPool = await refused({ jobs: [noop({ pool: 'no-such-pool' })] }, 400);
    expect(unknownPool.errors?.[0]?.field).toBe('jobs.0.pool');
  });

  it('refuses an empty batch, one over 100 jobs, and a body without jobs', async () => {
    expect((await refused({ jobs: [] }, 400)).errors?.[0]?.field).toBe('jobs');
    const many = Array.from({ length: 101 }, () => noop());
    expect((await refused({ jobs: many }, 400)).errors?.[0]?.field).toBe('jobs');
    expect((await refused(noop(), 400)).errors?.map((e) => e.field)).toContain('jobs');
  });

  it('refuses a batch that gives one idempotency key twice, naming the second', async () => {
    const body = await refused(
      { jobs: [noop({ idempotency_key: 'dup' }), noop(), noop({ idempotency_key: 'dup' })] },
      400,
    );
    expect(body.errors?.[0]?.field).toBe('jobs.2.idempotency_key');
  });

  it('answers a repeated batch with the same jobs (200, created false) and enqueues nothing again', async () => {
    const jobs = [noop({ idempotency_key: `a-${pool}` }), noop({ idempotency_key: `b-${pool}` })];
    const first = (await admin().post('/api/v1/jobs/batch', { jobs }).expect(201)).body.items as Item[];
    const before = await snapshot();
    const again = (await admin().post('/api/v1/jobs/batch', { jobs }).expect(200)).body.items as Item[];
    expect(again.map((i) => i.created)).toEqual([false, false]);
    expect(again.map((i) => i.job.id)).toEqual(first.map((i) => i.job.id));
    expect(await snapshot()).toEqual(before);
  });

  it('takes the jobs:write scope (403 for a viewer key)', async () => {
    const reader = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
    await refused({ jobs: [noop()] }, 403, reader.key);
  });

  it("treats another organization's target as unknown (400 naming jobs.N.target_id), writing nothing there", async () => {
    const theirs = await totalOf(cp, other.adminKey, '/api/v1/jobs');
    const body = await refused(
      { jobs: [{ command: ['agentfleet:noop'], target_id: target.id }] },
      400,
      other.adminKey,
    );
    expect(body.errors?.[0]?.field).toBe('jobs.0.target_id');
    expect(await totalOf(cp, other.adminKey, '/api/v1/jobs')).toBe(theirs);
  });
});
