import { type ApiError, createApiKey, createOrganization, totalOf } from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

/**
 * PATCH /api/v1/execution-targets/{id}: an operator changes capacity, images, breaker options and
 * is_active of a live target (docs/runbook.md: AgentFleetHighOomRate, AgentFleetBreakerOpen).
 */
describe('changing an execution target (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };
  let other: { id: string; adminKey: string };
  let target: { id: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
    other = await createOrganization(cp, 'target-tenant-b');
    target = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/execution-targets', {
          name: 'proc',
          type: 'process',
          worker_pool: 'patch-pool',
          capacity: { max_memory_mb: 1024, max_cpu: 2, max_concurrent: 4 },
          allowed_images: ['agentfleet/*'],
        })
        .expect(201)
    ).body;
  });
  afterAll(async () => {
    await cp.close();
  });

  const admin = () => cp.as(cp.adminKey);
  const path = () => `/api/v1/execution-targets/${target.id}`;
  const audits = async (action: string) =>
    (
      await admin()
        .get(`/api/v1/admin/audit-log?action=${action}&resource_id=${target.id}&limit=200`)
        .expect(200)
    ).body.items as { action: string; details: Record<string, unknown>; api_key_id?: string }[];

  /** The target and the audit log as they are: what a refused request must leave alone. */
  const snapshot = async () => ({
    target: (await admin().get(path()).expect(200)).body as Record<string, unknown>,
    audit: await totalOf(cp, cp.adminKey, '/api/v1/admin/audit-log'),
  });

  it('raises the memory cap: a job above the old cap is accepted afterwards, and the change is audited', async () => {
    const job = { command: ['agentfleet:noop'], target_id: target.id, memory_limit_mb: 2048 };
    const refusedJob = await admin().post('/api/v1/jobs', job).expect(400);
    expect((refusedJob.body as ApiError).errors?.[0]?.field).toBe('memory_limit_mb');

    const res = await admin()
      .patch(path(), { capacity: { max_memory_mb: 4096 }, breaker: { reset_timeout_ms: 5000 } })
      .expect(200);
    expect(res.body).toMatchObject({
      id: target.id,
      capacity: { max_memory_mb: 4096, max_cpu: 2, max_concurrent: 4 },
      breaker: { reset_timeout_ms: 5000, error_threshold_percentage: 50 },
      worker_pool: 'patch-pool',
      is_active: true,
    });
    expect((await admin().get(path()).expect(200)).body.capacity.max_memory_mb).toBe(4096);
    await admin().post('/api/v1/jobs', job).expect(201);

    const [entry] = await audits('execution_target.updated');
    expect(entry?.details).toMatchObject({
      changes: {
        capacity: { from: { max_memory_mb: 1024 }, to: { max_memory_mb: 4096 } },
        breaker: { from: { reset_timeout_ms: 30_000 }, to: { reset_timeout_ms: 5000 } },
      },
    });
  });

  it('lowers the memory cap for new submissions only: a queued job keeps the limit it was accepted with', async () => {
    const queued = (
      await admin()
        .post('/api/v1/jobs', { command: ['agentfleet:noop'], target_id: target.id, memory_limit_mb: 3000 })
        .expect(201)
    ).body as { id: string };
    await admin()
      .patch(path(), { capacity: { max_memory_mb: 512 } })
      .expect(200);
    const job = (await admin().get(`/api/v1/jobs/${queued.id}`).expect(200)).body;
    expect(job).toMatchObject({ status: 'queued', memory_limit_mb: 3000 });
    const res = await admin()
      .post('/api/v1/jobs', { command: ['agentfleet:noop'], target_id: target.id, memory_limit_mb: 1024 })
      .expect(400);
    expect((res.body as ApiError).errors?.[0]?.field).toBe('memory_limit_mb');
  });

  it('changes allowed_images and the default image together; new jobs are checked against them', async () => {
    await admin()
      .patch(path(), { allowed_images: ['registry.internal/*'], default_image: 'registry.internal/rt:1' })
      .expect(200);
    const refusedJob = await admin()
      .post('/api/v1/jobs', { image: 'agentfleet/agent-runtime:dev', target_id: target.id })
      .expect(400);
    expect((refusedJob.body as ApiError).errors?.[0]?.field).toBe('image');
    await admin().post('/api/v1/jobs', { image: 'registry.internal/x:2', target_id: target.id }).expect(201);
  });

  it('deactivates a target (no new job is routed to it) and reactivates it', async () => {
    const off = await admin().patch(path(), { is_active: false }).expect(200);
    expect(off.body.is_active).toBe(false);
    const routed = await admin()
      .post('/api/v1/jobs', { command: ['agentfleet:noop'], target_id: target.id })
      .expect(400);
    expect((routed.body as ApiError).errors?.[0]?.field).toBe('target_id');
    const pooled = await admin()
      .post('/api/v1/jobs', { command: ['agentfleet:noop'], pool: 'patch-pool' })
      .expect(400);
    expect((pooled.body as ApiError).errors?.[0]?.field).toBe('pool');

    const on = await admin().patch(path(), { is_active: true }).expect(200);
    expect(on.body.is_active).toBe(true);
    await admin()
      .post('/api/v1/jobs', { command: ['agentfleet:noop'], pool: 'patch-pool' })
      .expect(201);
    const changes = (await audits('execution_target.updated')).map((a) => a.details['changes']);
    expect(changes.slice(0, 2)).toEqual([
      { is_active: { from: false, to: true } },
      { is_active: { from: true, to: false } },
    ]);
  });

  it('applies concurrent partial changes of one target one after the other, losing none', async () => {
    await Promise.all([
      admin()
        .patch(path(), { capacity: { max_cpu: 3 } })
        .expect(200),
      admin()
        .patch(path(), { capacity: { max_concurrent: 7 } })
        .expect(200),
      admin()
        .patch(path(), { capacity: { max_memory_mb: 777 } })
        .expect(200),
      admin()
        .patch(path(), { breaker: { volume_threshold: 9 } })
        .expect(200),
    ]);
    const t = (await admin().get(path()).expect(200)).body;
    expect(t.capacity).toEqual({ max_memory_mb: 777, max_cpu: 3, max_concurrent: 7 });
    expect(t.breaker.volume_threshold).toBe(9);
  });

  it('writes nothing when every value given is the stored one', async () => {
    const before = await snapshot();
    const res = await admin()
      .patch(path(), { is_active: true, worker_pool: 'patch-pool', type: 'process', name: 'proc' })
      .expect(200);
    expect(res.body).toEqual(before.target);
    expect(await snapshot()).toEqual(before);
  });

  describe('refusals write nothing', () => {
    async function refused(body: unknown, status: number, field: string) {
      const before = await snapshot();
      const res = await admin().patch(path(), body);
      expect(res.status).toBe(status);
      expect((res.body as ApiError).errors?.map((e) => e.field)).toContain(field);
      expect(await snapshot()).toEqual(before);
      return res.body as ApiError;
    }

    it.each([
      ['worker_pool', { worker_pool: 'gpu', capacity: { max_cpu: 1 } }],
      ['type', { type: 'docker' }],
      ['name', { name: 'renamed' }],
      ['connection', { connection: { socket_path: '/run/other.sock' } }],
    ])('refuses a change of %s with 409 naming it', async (field, body) => {
      const err = await refused(body, 409, field);
      expect(err.message).toMatch(/cannot be changed/);
    });

    it.each([
      ['capacity.max_memory_mb', { capacity: { max_memory_mb: 8 } }],
      ['capacity.max_cpu', { capacity: { max_cpu: -1 } }],
      ['breaker.error_threshold_percentage', { breaker: { error_threshold_percentage: 0 } }],
      ['is_active', { is_active: 'yes' }],
      ['allowed_images', { allowed_images: 'agentfleet/*' }],
      ['capacity', { capacity: {} }],
      ['(body)', {}],
      ['default_bucket', { default_bucket: 'x' }],
      ['default_image', { default_image: 'docker.io/evil:latest' }],
    ])('refuses bad input with 400 naming %s', async (field, body) => {
      await refused(body, 400, field);
    });

    it('refuses allowed_images that the stored default image would not pass', async () => {
      await refused({ allowed_images: ['nothing-matches/*'] }, 400, 'allowed_images');
    });
  });

  it('takes the targets:write scope (403 with targets:read only)', async () => {
    const viewer = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
    const before = await snapshot();
    await cp.as(viewer.key).get(path()).expect(200);
    const res = await cp.as(viewer.key).patch(path(), { is_active: false }).expect(403);
    expect((res.body as ApiError).error).toBe('forbidden');
    expect(await snapshot()).toEqual(before);
  });

  it("answers another organization's target with 404, as for an id that exists nowhere, writing nothing", async () => {
    const before = await snapshot();
    const res = await cp.as(other.adminKey).patch(path(), { is_active: false }).expect(404);
    expect((res.body as ApiError).error).toBe('not_found');
    await cp
      .as(other.adminKey)
      .patch('/api/v1/execution-targets/00000000-0000-4000-8000-000000000000', { is_active: false })
      .expect(404);
    expect(await snapshot()).toEqual(before);
    expect(await totalOf(cp, other.adminKey, '/api/v1/admin/audit-log?action=execution_target.updated')).toBe(
      0,
    );
  });
});
