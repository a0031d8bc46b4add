import {
  apiKeyIdOf,
  createApiKey,
  createOrganization,
  createWorkerToken,
  registerWorker,
} from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

interface AuditEntry {
  id: string;
  organization_id: string;
  user_id: string | null;
  api_key_id: string | null;
  worker_token_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string;
  details: Record<string, unknown>;
  ip_address: string | null;
  created_at: string;
}

describe('audit log and public endpoints (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };
  let adminKeyId: string;

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
    adminKeyId = await apiKeyIdOf(cp, cp.adminKey);
  });
  afterAll(async () => {
    await cp.close();
  });

  const admin = () => cp.as(cp.adminKey);

  async function auditOf(action: string, resourceId: string, key = cp.adminKey): Promise<AuditEntry[]> {
    const res = await cp
      .as(key)
      .get(`/api/v1/admin/audit-log?action=${encodeURIComponent(action)}&resource_id=${resourceId}`)
      .expect(200);
    return res.body.items as AuditEntry[];
  }

  /** Exactly one entry for the action on the resource, made by `apiKeyId` from the test's address. */
  async function expectAuditedByKey(
    action: string,
    resourceType: string,
    resourceId: string,
    apiKeyId = adminKeyId,
  ) {
    const entries = await auditOf(action, resourceId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      organization_id: cp.organizationId,
      api_key_id: apiKeyId,
      worker_token_id: null,
      action,
      resource_type: resourceType,
      resource_id: resourceId,
      ip_address: expect.stringMatching(/127\.0\.0\.1$/),
    });
    return entries[0]!;
  }

  describe('every mutation writes the audit log with its actor and address', () => {
    it('api_key.created and api_key.revoked', async () => {
      const k = await createApiKey(cp, cp.adminKey, { name: 'audited', role: 'viewer' });
      const created = await expectAuditedByKey('api_key.created', 'api_key', k.id);
      expect(created.details).toMatchObject({ name: 'audited', role: 'viewer' });
      expect(JSON.stringify(created)).not.toContain(k.key);
      await admin().delete(`/api/v1/api-keys/${k.id}`).expect(200);
      await admin().delete(`/api/v1/api-keys/${k.id}`).expect(200);
      // the second, idempotent revocation changed nothing and wrote nothing
      await expectAuditedByKey('api_key.revoked', 'api_key', k.id);
    });

    it('user.created and user.updated', async () => {
      const u = await admin()
        .post('/api/v1/users', { email: 'audit@example.com', roles: ['editor'] })
        .expect(201);
      const created = await expectAuditedByKey('user.created', 'user', u.body.id);
      expect(created.details).toMatchObject({ email: 'audit@example.com', roles: ['editor'] });
      await admin()
        .patch(`/api/v1/users/${u.body.id}`, { roles: ['viewer'], name: 'Audrey' })
        .expect(200);
      const updated = await expectAuditedByKey('user.updated', 'user', u.body.id);
      expect(updated.details).toMatchObject({ roles: ['viewer'], name: 'Audrey' });
    });

    it('worker_token.created and worker_token.revoked, with the acting key of another role', async () => {
      const op = await createApiKey(cp, cp.adminKey, { role: 'operator' });
      const t = await createWorkerToken(cp, op.key, { name: 'audited token' });
      const created = await expectAuditedByKey('worker_token.created', 'worker_token', t.id, op.id);
      expect(JSON.stringify(created)).not.toContain(t.token);
      await cp.as(op.key).delete(`/api/v1/worker-tokens/${t.id}`).expect(200);
      await cp.as(op.key).delete(`/api/v1/worker-tokens/${t.id}`).expect(200);
      await expectAuditedByKey('worker_token.revoked', 'worker_token', t.id, op.id);
    });

    it('worker.registered and worker.deregistered, by the worker token', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const w = await registerWorker(cp, t.token, 'audited-worker');
      await cp
        .as(t.token)
        .post(`/api/v1/workers/${w.worker_id}/deregister`, { reason: 'test over' })
        .expect(200);
      for (const action of ['worker.registered', 'worker.deregistered']) {
        const entries = await auditOf(action, w.worker_id);
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({
          organization_id: cp.organizationId,
          api_key_id: null,
          worker_token_id: t.id,
          resource_type: 'worker',
          ip_address: expect.stringMatching(/127\.0\.0\.1$/),
        });
      }
      expect((await auditOf('worker.registered', w.worker_id))[0]!.details).toMatchObject({
        instance_id: 'audited-worker',
      });
      expect((await auditOf('worker.deregistered', w.worker_id))[0]!.details).toEqual({
        reason: 'test over',
      });
    });

    it('worker.drain, worker.cordon and worker.uncordon', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const w = await registerWorker(cp, t.token, 'scheduled-worker');
      for (const command of ['drain', 'cordon', 'uncordon']) {
        await admin().post(`/api/v1/admin/workers/${w.worker_id}/${command}`).expect(200);
      }
      expect((await expectAuditedByKey('worker.drain', 'worker', w.worker_id)).details).toEqual({
        from: 'active',
        to: 'draining',
      });
      await expectAuditedByKey('worker.cordon', 'worker', w.worker_id);
      expect((await expectAuditedByKey('worker.uncordon', 'worker', w.worker_id)).details).toEqual({
        from: 'draining',
        to: 'active',
      });
    });

    it('records the connecting address, not a client-supplied X-Forwarded-For (trust proxy is off)', async () => {
      const res = await cp
        .http()
        .post('/api/v1/users')
        .set('Authorization', `Bearer ${cp.adminKey}`)
        .set('X-Forwarded-For', '203.0.113.9')
        .send({ email: 'spoof@example.com' })
        .expect(201);
      const entry = await expectAuditedByKey('user.created', 'user', res.body.id);
      expect(entry.ip_address).not.toContain('203.0.113.9');
    });

    it('organization.created', async () => {
      const org = await createOrganization(cp, 'audited-org');
      await expectAuditedByKey('organization.created', 'organization', org.id);
    });

    it('failed mutations write nothing', async () => {
      const before = (await admin().get('/api/v1/admin/audit-log').expect(200)).body.total as number;
      await admin().post('/api/v1/admin/workers/00000000-0000-4000-8000-000000000000/drain').expect(404);
      await admin().delete('/api/v1/worker-tokens/00000000-0000-4000-8000-000000000000').expect(404);
      await admin()
        .post('/api/v1/api-keys', { name: 'x', role: 'viewer', scopes: ['workers:write'] })
        .expect(400);
      const viewer = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
      await cp.as(viewer.key).post('/api/v1/worker-tokens', { name: 'no' }).expect(403);
      const after = (await admin().get('/api/v1/admin/audit-log').expect(200)).body.total as number;
      expect(after).toBe(before + 1); // the viewer key's own api_key.created
    });
  });

  describe('reading the audit log', () => {
    it('lists newest first and filters by action, resource type and resource id', async () => {
      const t1 = await createWorkerToken(cp, cp.adminKey, { name: 'first' });
      const t2 = await createWorkerToken(cp, cp.adminKey, { name: 'second' });
      const byType = await admin()
        .get('/api/v1/admin/audit-log?resource_type=worker_token&limit=200')
        .expect(200);
      const items = byType.body.items as AuditEntry[];
      expect(items.every((e) => e.resource_type === 'worker_token')).toBe(true);
      const i1 = items.findIndex((e) => e.resource_id === t1.id);
      const i2 = items.findIndex((e) => e.resource_id === t2.id);
      expect(i2).toBeGreaterThanOrEqual(0);
      expect(i2).toBeLessThan(i1);
      const times = items.map((e) => Date.parse(e.created_at));
      expect(times).toEqual([...times].sort((x, y) => y - x));
      const one = await admin().get(`/api/v1/admin/audit-log?resource_id=${t1.id}`).expect(200);
      expect(one.body.total).toBe(1);
      const page = await admin().get('/api/v1/admin/audit-log?limit=1&offset=1').expect(200);
      expect(page.body.items).toHaveLength(1);
    });

    it('starts with the bootstrap entry', async () => {
      const res = await admin().get(`/api/v1/admin/audit-log?action=instance.bootstrapped`).expect(200);
      expect(res.body.items).toHaveLength(1);
      expect(res.body.items[0].resource_id).toBe(adminKeyId);
    });
  });

  describe('public endpoints', () => {
    it('GET /healthz answers 200 without a credential', async () => {
      const res = await cp.http().get('/healthz').expect(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('GET /readyz answers 200 with PostgreSQL and Redis up', async () => {
      const res = await cp.http().get('/readyz').expect(200);
      expect(res.body).toMatchObject({
        status: 'ok',
        info: { postgres: { status: 'up' }, redis: { status: 'up' } },
      });
    });

    it('serves the OpenAPI document listing every endpoint', async () => {
      const html = await cp.http().get('/docs').expect(200);
      expect(html.headers['content-type']).toMatch(/text\/html/);
      const res = await cp.http().get('/docs/openapi.json').expect(200);
      const doc = res.body as {
        openapi: string;
        paths: Record<string, Record<string, unknown>>;
        components: { securitySchemes?: Record<string, unknown> };
      };
      expect(doc.openapi).toMatch(/^3\./);
      const expected: Record<string, string[]> = {
        '/api/v1/organizations': ['get', 'post'],
        '/api/v1/organizations/current': ['get'],
        '/api/v1/users': ['get', 'post'],
        '/api/v1/users/{id}': ['get', 'patch'],
        '/api/v1/api-keys': ['get', 'post'],
        '/api/v1/api-keys/{id}': ['get', 'delete'],
        '/api/v1/worker-tokens': ['get', 'post'],
        '/api/v1/worker-tokens/{id}': ['get', 'delete'],
        '/api/v1/workers/register': ['post'],
        '/api/v1/workers/{id}/deregister': ['post'],
        '/api/v1/admin/workers': ['get'],
        '/api/v1/admin/workers/{id}': ['get'],
        '/api/v1/admin/workers/{id}/drain': ['post'],
        '/api/v1/admin/workers/{id}/cordon': ['post'],
        '/api/v1/admin/workers/{id}/uncordon': ['post'],
        '/api/v1/admin/audit-log': ['get'],
        '/healthz': ['get'],
        '/readyz': ['get'],
      };
      for (const [path, methods] of Object.entries(expected)) {
        expect({ path, methods: Object.keys(doc.paths[path] ?? {}).sort() }).toEqual({
          path,
          methods: expect.arrayContaining(methods),
        });
      }
      expect(Object.keys(doc.components.securitySchemes ?? {})).not.toHaveLength(0);
      // request bodies are documented from the same zod schemas that validate them
      const create = doc.paths['/api/v1/worker-tokens']!['post'] as {
        requestBody: { content: { 'application/json': { schema: { $ref: string } } } };
      };
      const ref = create.requestBody.content['application/json'].schema.$ref.split('/').pop()!;
      const schemas = (doc.components as { schemas: Record<string, { properties: Record<string, unknown> }> })
        .schemas;
      expect(Object.keys(schemas[ref]!.properties)).toEqual(
        expect.arrayContaining([
          'name',
          'labels',
          'capabilities',
          'max_concurrent_tasks',
          'pools',
          'expires_at',
        ]),
      );
    });

    it('does not advertise the framework', async () => {
      const res = await cp.http().get('/healthz').expect(200);
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers['x-request-id']).toEqual(expect.any(String));
    });
  });
});
