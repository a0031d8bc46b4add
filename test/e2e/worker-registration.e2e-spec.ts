import { waitFor } from '@agentfleet/testing';
import {
  type ApiError,
  UNKNOWN_WORKER_TOKEN,
  createWorkerToken,
  registerWorker,
  registration,
} from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

describe('worker tokens and worker registration (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };

  beforeAll(async () => {
    // long enough that no worker registered here (none of them heartbeats) is reaped during a test
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
  });
  afterAll(async () => {
    await cp.close();
  });

  const admin = () => cp.as(cp.adminKey);

  describe('worker token lifecycle', () => {
    it('shows the plaintext token once at creation and never in list or get, and never returns a hash', async () => {
      const res = await admin()
        .post('/api/v1/worker-tokens', {
          name: 'gpu fleet',
          labels: { zone: 'eu-1' },
          capabilities: ['execute', 'supervise'],
          max_concurrent_tasks: 8,
          pools: ['gpu'],
        })
        .expect(201);
      const created = res.body;
      expect(created.token).toMatch(/^awt_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
      expect(created.token.split('_')[1]).toBe(created.prefix);
      expect(created).toMatchObject({
        organization_id: cp.organizationId,
        name: 'gpu fleet',
        labels: { zone: 'eu-1' },
        capabilities: ['execute', 'supervise'],
        max_concurrent_tasks: 8,
        pools: ['gpu'],
        state: 'active',
        revoked_at: null,
        expires_at: null,
      });
      const secret = created.token.split('_').slice(2).join('_');

      const got = await admin().get(`/api/v1/worker-tokens/${created.id}`).expect(200);
      const listed = await admin().get('/api/v1/worker-tokens').expect(200);
      const inList = listed.body.items.find((t: { id: string }) => t.id === created.id);
      expect(inList).toBeDefined();
      for (const body of [created, got.body, inList]) {
        expect(Object.keys(body).some((k) => /hash/i.test(k))).toBe(false);
      }
      for (const body of [got.body, listed.body]) {
        expect(body.token).toBeUndefined();
        expect(JSON.stringify(body)).not.toContain(secret);
      }
      expect(inList.token).toBeUndefined();
      const { token: _token, ...withoutPlaintext } = created;
      expect(got.body).toEqual(withoutPlaintext);
    });

    it('applies the documented defaults', async () => {
      const t = await createWorkerToken(cp, cp.adminKey, { name: 'defaults' });
      expect(t).toMatchObject({
        labels: {},
        capabilities: ['execute', 'ingest'],
        max_concurrent_tasks: 4,
        pools: ['default'],
      });
    });

    it('lists tokens with pagination and a total', async () => {
      for (let i = 0; i < 3; i++) await createWorkerToken(cp, cp.adminKey, { name: `page-${i}` });
      const all = await admin().get('/api/v1/worker-tokens?limit=200').expect(200);
      expect(all.body.total).toBe(all.body.items.length);
      const page = await admin().get('/api/v1/worker-tokens?limit=2&offset=1').expect(200);
      expect(page.body.total).toBe(all.body.total);
      expect(page.body.items.map((t: { id: string }) => t.id)).toEqual(
        all.body.items.slice(1, 3).map((t: { id: string }) => t.id),
      );
    });

    it('revokes a token, idempotently, and a revoked token can no longer register', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const first = await admin().delete(`/api/v1/worker-tokens/${t.id}`).expect(200);
      expect(first.body.state).toBe('revoked');
      expect(first.body.revoked_at).toEqual(expect.any(String));
      const second = await admin().delete(`/api/v1/worker-tokens/${t.id}`).expect(200);
      expect(second.body.state).toBe('revoked');
      expect(second.body.revoked_at).toBe(first.body.revoked_at);
      const audit = await admin()
        .get(`/api/v1/admin/audit-log?action=worker_token.revoked&resource_id=${t.id}`)
        .expect(200);
      expect(audit.body.total).toBe(1);

      const res = await cp
        .as(t.token)
        .post('/api/v1/workers/register', registration('revoked-1'))
        .expect(401);
      expect((res.body as ApiError).message).toMatch(/revoked/);
    });

    it('answers 404 for a token id that does not exist', async () => {
      const id = '00000000-0000-4000-8000-000000000000';
      await admin().get(`/api/v1/worker-tokens/${id}`).expect(404);
      await admin().delete(`/api/v1/worker-tokens/${id}`).expect(404);
    });

    it('lets a token expire: registration works before expires_at and is refused with "expired" after', async () => {
      const expiresAt = new Date(Date.now() + 2_000).toISOString();
      const t = await createWorkerToken(cp, cp.adminKey, { expires_at: expiresAt });
      expect(Date.parse(t.expires_at as string)).toBe(Date.parse(expiresAt));
      const ok = await registerWorker(cp, t.token, 'expiring-1');
      expect(Date.parse(ok['token_expires_at'] as string)).toBe(Date.parse(expiresAt));

      const refused = await waitFor(
        async () => {
          const res = await cp.as(t.token).post('/api/v1/workers/register', registration('expiring-1'));
          return res.status === 401 ? res : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: 'registration refused after expiry' },
      );
      expect((refused.body as ApiError).message).toMatch(/expired/);
      expect(refused.headers['www-authenticate']).toBe('Bearer');
      const got = await admin().get(`/api/v1/worker-tokens/${t.id}`).expect(200);
      expect(got.body.state).toBe('expired');
    });

    it('refuses an expires_at in the past', async () => {
      const res = await admin()
        .post('/api/v1/worker-tokens', {
          name: 'past',
          expires_at: new Date(Date.now() - 60_000).toISOString(),
        })
        .expect(400);
      expect((res.body as ApiError).errors?.[0]?.field).toBe('expires_at');
    });
  });

  describe('registration', () => {
    it('registers a worker and hands it its id, timing, queues and concurrency', async () => {
      const t = await createWorkerToken(cp, cp.adminKey, { max_concurrent_tasks: 3 });
      const res = await cp
        .as(t.token)
        .post(
          '/api/v1/workers/register',
          registration('reg-1', { capacity: { memory_mb: 4096, cpus: 4, slots: 8 } }),
        )
        .expect(200);
      expect(res.body).toMatchObject({
        worker_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        token_id: t.id,
        organization_id: cp.organizationId,
        heartbeat_interval_ms: cp.env.AGENTFLEET_HEARTBEAT_INTERVAL_MS,
        grace_period_ms: cp.env.AGENTFLEET_WORKER_GRACE_PERIOD_MS,
        concurrency: 3,
        capabilities: ['execute', 'ingest'],
        pools: ['default'],
        queues: ['execution-default', 'ingestion'],
        token_expires_at: null,
        redis_key_prefix: cp.env.AGENTFLEET_REDIS_PREFIX,
      });

      const w = await admin().get(`/api/v1/admin/workers/${res.body.worker_id}`).expect(200);
      expect(w.body).toMatchObject({
        id: res.body.worker_id,
        token_id: t.id,
        instance_id: 'reg-1',
        hostname: 'host-reg-1',
        status: 'online',
        scheduling: 'active',
        concurrency: 3,
      });
      const tokenNow = await admin().get(`/api/v1/worker-tokens/${t.id}`).expect(200);
      expect(tokenNow.body.worker_id).toBe(res.body.worker_id);
      expect(tokenNow.body.last_used_at).toEqual(expect.any(String));
    });

    it('sets concurrency to min(max_concurrent_tasks, slots)', async () => {
      const t = await createWorkerToken(cp, cp.adminKey, { max_concurrent_tasks: 6 });
      const fewer = await registerWorker(cp, t.token, 'slots-2', {
        capacity: { memory_mb: 1024, cpus: 1, slots: 2 },
      });
      expect(fewer['concurrency']).toBe(2);
      const more = await registerWorker(cp, t.token, 'slots-100', {
        capacity: { memory_mb: 1024, cpus: 1, slots: 100 },
      });
      expect(more['concurrency']).toBe(6);
      const none = await registerWorker(cp, t.token, 'slots-none');
      expect(none['concurrency']).toBe(6);
    });

    it('derives queues from capabilities and pools, and lets the token labels win over the worker labels', async () => {
      const t = await createWorkerToken(cp, cp.adminKey, {
        capabilities: ['execute', 'supervise'],
        pools: ['gpu', 'cpu'],
        labels: { zone: 'operator-zone' },
      });
      const r = await registerWorker(cp, t.token, 'queues-1', {
        labels: { zone: 'self-claimed', disk: 'ssd' },
      });
      expect(r['queues']).toEqual(['execution-gpu', 'execution-cpu', 'supervise']);
      const w = await admin().get(`/api/v1/admin/workers/${r.worker_id}`).expect(200);
      expect(w.body.labels).toEqual({ zone: 'operator-zone', disk: 'ssd' });
    });

    it('returns the same worker id when the same instance registers again, and a new one for another instance', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const a1 = await registerWorker(cp, t.token, 'same-instance');
      const a2 = await registerWorker(cp, t.token, 'same-instance', { version: '0.2.0' });
      const b = await registerWorker(cp, t.token, 'other-instance');
      expect(a2.worker_id).toBe(a1.worker_id);
      expect(b.worker_id).not.toBe(a1.worker_id);
      const w = await admin().get(`/api/v1/admin/workers/${a1.worker_id}`).expect(200);
      expect(w.body.version).toBe('0.2.0');
      const list = await admin().get('/api/v1/admin/workers?limit=200').expect(200);
      expect(
        list.body.items.filter((x: { instance_id: string }) => x.instance_id === 'same-instance'),
      ).toHaveLength(1);
    });

    it('refuses a malformed token with 401 "malformed"', async () => {
      for (const bad of ['awt_short', 'not-a-token', `afk_AAAAAAAAAAAA_${'A'.repeat(43)}`]) {
        const res = await cp.as(bad).post('/api/v1/workers/register', registration('bad')).expect(401);
        expect((res.body as ApiError).message).toMatch(/malformed/);
      }
    });

    it('refuses a missing token with 401', async () => {
      const res = await cp.http().post('/api/v1/workers/register').send(registration('none')).expect(401);
      expect((res.body as ApiError).message).toMatch(/worker token is required/);
    });

    it('refuses an unknown token with 401 "not valid"', async () => {
      const res = await cp
        .as(UNKNOWN_WORKER_TOKEN)
        .post('/api/v1/workers/register', registration('unknown'))
        .expect(401);
      expect((res.body as ApiError).message).toMatch(/not valid/);
    });

    it('refuses a token whose prefix exists but whose secret is wrong', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const [kind, prefix] = t.token.split('_');
      const forged = `${kind}_${prefix}_${'A'.repeat(43)}`;
      const res = await cp.as(forged).post('/api/v1/workers/register', registration('forged')).expect(401);
      expect((res.body as ApiError).message).toMatch(/not valid/);
    });

    it('refuses an API key where a worker token is required, and a worker token where an API key is', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      await cp.as(cp.adminKey).post('/api/v1/workers/register', registration('wrong-kind')).expect(401);
      const res = await cp.as(t.token).get('/api/v1/worker-tokens').expect(401);
      expect((res.body as ApiError).message).toMatch(/API key is malformed/);
    });

    it('takes the workers of a revoked token offline and refuses their re-registration', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const r = await registerWorker(cp, t.token, 'to-revoke');
      await admin().delete(`/api/v1/worker-tokens/${t.id}`).expect(200);
      const w = await admin().get(`/api/v1/admin/workers/${r.worker_id}`).expect(200);
      expect(w.body.status).toBe('offline');
      const res = await cp
        .as(t.token)
        .post('/api/v1/workers/register', registration('to-revoke'))
        .expect(401);
      expect((res.body as ApiError).message).toMatch(/revoked/);
    });

    it('refuses an unsupported protocol_version with 400 naming protocol_version, and records nothing', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const before = await admin().get('/api/v1/admin/workers?limit=200').expect(200);
      for (const v of [2, 0, '1']) {
        const res = await cp
          .as(t.token)
          .post('/api/v1/workers/register', registration('proto', { protocol_version: v }))
          .expect(400);
        expect((res.body as ApiError).errors?.map((e) => e.field)).toContain('protocol_version');
      }
      const after = await admin().get('/api/v1/admin/workers?limit=200').expect(200);
      expect(after.body.total).toBe(before.body.total);
      const tokenNow = await admin().get(`/api/v1/worker-tokens/${t.id}`).expect(200);
      expect(tokenNow.body.worker_id).toBeNull();
    });

    it('refuses a registration body with missing or unknown capacity fields', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const missing = await cp
        .as(t.token)
        .post('/api/v1/workers/register', registration('cap', { capacity: { cpus: 1 } }))
        .expect(400);
      expect((missing.body as ApiError).errors?.map((e) => e.field)).toContain('capacity.memory_mb');
      const unknown = await cp
        .as(t.token)
        .post(
          '/api/v1/workers/register',
          registration('cap', { capacity: { memory_mb: 1, cpus: 1, gpus: 1 } }),
        )
        .expect(400);
      expect((unknown.body as ApiError).errors?.map((e) => e.field)).toContain('capacity.gpus');
    });
  });

  describe('deregistration', () => {
    it('lets a worker take itself offline with its own token', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const r = await registerWorker(cp, t.token, 'dereg-self');
      const res = await cp
        .as(t.token)
        .post(`/api/v1/workers/${r.worker_id}/deregister`, { reason: 'SIGTERM' })
        .expect(200);
      expect(res.body).toEqual({ worker_id: r.worker_id, status: 'offline' });
      const w = await admin().get(`/api/v1/admin/workers/${r.worker_id}`).expect(200);
      expect(w.body.status).toBe('offline');
      expect(w.body.offline_at).toEqual(expect.any(String));
      // registering again brings the same worker back online
      const again = await registerWorker(cp, t.token, 'dereg-self');
      expect(again.worker_id).toBe(r.worker_id);
      const back = await admin().get(`/api/v1/admin/workers/${r.worker_id}`).expect(200);
      expect(back.body.status).toBe('online');
    });

    it('answers 404 when another token of the same organization deregisters the worker, and leaves it online', async () => {
      const owner = await createWorkerToken(cp, cp.adminKey);
      const other = await createWorkerToken(cp, cp.adminKey);
      const r = await registerWorker(cp, owner.token, 'dereg-other');
      await cp.as(other.token).post(`/api/v1/workers/${r.worker_id}/deregister`, {}).expect(404);
      const w = await admin().get(`/api/v1/admin/workers/${r.worker_id}`).expect(200);
      expect(w.body.status).toBe('online');
      const audit = await admin()
        .get(`/api/v1/admin/audit-log?action=worker.deregistered&resource_id=${r.worker_id}`)
        .expect(200);
      expect(audit.body.total).toBe(0);
    });

    it('answers 404 for an unknown worker id and 400 for a malformed one', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      await cp
        .as(t.token)
        .post('/api/v1/workers/00000000-0000-4000-8000-000000000000/deregister', {})
        .expect(404);
      const res = await cp.as(t.token).post('/api/v1/workers/not-a-uuid/deregister', {}).expect(400);
      expect((res.body as ApiError).errors?.[0]?.field).toBe('id');
    });
  });

  describe('operator scheduling', () => {
    it('drains, cordons and uncordons a worker', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const r = await registerWorker(cp, t.token, 'sched-1');
      const path = `/api/v1/admin/workers/${r.worker_id}`;
      expect((await admin().post(`${path}/cordon`).expect(200)).body.scheduling).toBe('cordoned');
      expect((await admin().post(`${path}/drain`).expect(200)).body.scheduling).toBe('draining');
      // cordoning a draining worker keeps it draining
      expect((await admin().post(`${path}/cordon`).expect(200)).body.scheduling).toBe('draining');
      expect((await admin().post(`${path}/uncordon`).expect(200)).body.scheduling).toBe('active');
      // the operator's wish survives a re-registration
      await admin().post(`${path}/drain`).expect(200);
      const again = await cp
        .as(t.token)
        .post('/api/v1/workers/register', registration('sched-1'))
        .expect(200);
      expect(again.body.scheduling).toBe('draining');
    });

    it('filters the fleet by status and pool', async () => {
      const t = await createWorkerToken(cp, cp.adminKey, { pools: ['filter-pool'] });
      const r = await registerWorker(cp, t.token, 'filter-1');
      const byPool = await admin().get('/api/v1/admin/workers?pool=filter-pool').expect(200);
      expect(byPool.body.items.map((w: { id: string }) => w.id)).toEqual([r.worker_id]);
      await cp.as(t.token).post(`/api/v1/workers/${r.worker_id}/deregister`, {}).expect(200);
      const offline = await admin().get('/api/v1/admin/workers?status=offline&limit=200').expect(200);
      expect(offline.body.items.map((w: { id: string }) => w.id)).toContain(r.worker_id);
      const online = await admin().get('/api/v1/admin/workers?status=online&limit=200').expect(200);
      expect(online.body.items.map((w: { id: string }) => w.id)).not.toContain(r.worker_id);
      await admin().get('/api/v1/admin/workers?status=sleeping').expect(400);
    });
  });
});
