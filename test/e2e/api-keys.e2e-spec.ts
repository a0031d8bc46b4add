import { BUILTIN_ROLES } from '@agentfleet/contracts';
import { waitFor } from '@agentfleet/testing';
import {
  type ApiError,
  UNKNOWN_API_KEY,
  createApiKey,
  createWorkerToken,
  registerWorker,
} from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

describe('API keys: authentication, scopes and roles (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
  });
  afterAll(async () => {
    await cp.close();
  });

  const admin = () => cp.as(cp.adminKey);

  async function refusal(key: string | undefined, path = '/api/v1/organizations/current'): Promise<ApiError> {
    const req = key === undefined ? cp.http().get(path) : cp.as(key).get(path);
    const res = await req.expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).toMatchObject({ statusCode: 401, error: 'unauthenticated' });
    return res.body as ApiError;
  }

  describe('authentication', () => {
    it('refuses a request without a key with 401', async () => {
      expect((await refusal(undefined)).message).toMatch(/API key is required/);
    });

    it('refuses a malformed key with 401 "malformed"', async () => {
      for (const bad of [
        'afk_short',
        'hello',
        `awt_AAAAAAAAAAAA_${'A'.repeat(43)}`,
        `afk_AAAAAAAAAAAA_${'A'.repeat(42)}!`,
      ]) {
        expect((await refusal(bad)).message).toMatch(/malformed/);
      }
      const basic = await cp
        .http()
        .get('/api/v1/organizations/current')
        .set('Authorization', 'Basic dXNlcjpwYXNz')
        .expect(401);
      expect((basic.body as ApiError).message).toMatch(/malformed/);
    });

    it('refuses an unknown key with 401 "not valid"', async () => {
      expect((await refusal(UNKNOWN_API_KEY)).message).toMatch(/not valid/);
    });

    it('refuses a key with a known prefix but the wrong secret', async () => {
      const [kind, prefix] = cp.adminKey.split('_');
      expect((await refusal(`${kind}_${prefix}_${'A'.repeat(43)}`)).message).toMatch(/not valid/);
    });

    it('accepts the key in X-API-Key too', async () => {
      const res = await cp
        .http()
        .get('/api/v1/organizations/current')
        .set('X-API-Key', cp.adminKey)
        .expect(200);
      expect(res.body.id).toBe(cp.organizationId);
    });

    it('refuses a revoked key with 401 "revoked"; revoking twice is idempotent', async () => {
      const k = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
      await cp.as(k.key).get('/api/v1/organizations/current').expect(200);
      const first = await admin().delete(`/api/v1/api-keys/${k.id}`).expect(200);
      expect(first.body).toMatchObject({ id: k.id, is_active: false, revoked_at: expect.any(String) });
      const second = await admin().delete(`/api/v1/api-keys/${k.id}`).expect(200);
      expect(second.body.revoked_at).toBe(first.body.revoked_at);
      expect((await refusal(k.key)).message).toMatch(/revoked/);
    });

    it('lets a key revoke itself, after which it is refused', async () => {
      const k = await createApiKey(cp, cp.adminKey, { role: 'admin' });
      await cp.as(k.key).delete(`/api/v1/api-keys/${k.id}`).expect(200);
      expect((await refusal(k.key)).message).toMatch(/revoked/);
    });

    it('refuses an expired key with 401 "expired"', async () => {
      const expiresAt = new Date(Date.now() + 2_000).toISOString();
      const k = await createApiKey(cp, cp.adminKey, { role: 'viewer', expires_at: expiresAt });
      expect(Date.parse(k['expires_at'] as string)).toBe(Date.parse(expiresAt));
      await cp.as(k.key).get('/api/v1/organizations/current').expect(200);
      const res = await waitFor(
        async () => {
          const r = await cp.as(k.key).get('/api/v1/organizations/current');
          return r.status === 401 ? r : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: 'key refused after expiry' },
      );
      expect((res.body as ApiError).message).toMatch(/expired/);
    });

    it('refuses the key of a deactivated user', async () => {
      const user = await admin()
        .post('/api/v1/users', { email: 'leaver@example.com', roles: ['operator'] })
        .expect(201);
      const k = await createApiKey(cp, cp.adminKey, { role: 'operator', user_id: user.body.id });
      expect(k['user_id']).toBe(user.body.id);
      await cp.as(k.key).get('/api/v1/worker-tokens').expect(200);
      await admin().patch(`/api/v1/users/${user.body.id}`, { is_active: false }).expect(200);
      expect((await refusal(k.key)).message).toMatch(/deactivated/);
      await admin().patch(`/api/v1/users/${user.body.id}`, { is_active: true }).expect(200);
      await cp.as(k.key).get('/api/v1/worker-tokens').expect(200);
    });

    it('records when a key was last used', async () => {
      const k = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
      expect(k['last_used_at']).toBeNull();
      await cp.as(k.key).get('/api/v1/organizations/current').expect(200);
      const got = await admin().get(`/api/v1/api-keys/${k.id}`).expect(200);
      expect(got.body.last_used_at).toEqual(expect.any(String));
    });
  });

  describe('issuing keys', () => {
    it('shows the plaintext key once at creation and never in list or get, and never returns a hash', async () => {
      const res = await admin().post('/api/v1/api-keys', { name: 'ci', role: 'operator' }).expect(201);
      const created = res.body;
      expect(created.key).toMatch(/^afk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
      expect(created.key.split('_')[1]).toBe(created.prefix);
      expect(created).toMatchObject({
        name: 'ci',
        role: 'operator',
        instance_admin: false,
        is_active: true,
        rate_limit_per_hour: 0,
        expires_at: null,
        revoked_at: null,
      });
      // an operator key defaults to every permission of the operator role
      expect([...created.scopes].sort()).toEqual([...BUILTIN_ROLES.operator.permissions].sort());
      expect(created.scopes).toEqual(
        expect.arrayContaining(['worker-tokens:write', 'workers:write', 'jobs:write']),
      );
      expect(created.scopes).not.toContain('api-keys:write');
      const secret = created.key.split('_').slice(2).join('_');
      const got = await admin().get(`/api/v1/api-keys/${created.id}`).expect(200);
      const listed = await admin().get('/api/v1/api-keys?limit=200').expect(200);
      const inList = listed.body.items.find((k: { id: string }) => k.id === created.id);
      for (const body of [created, got.body, inList]) {
        expect(Object.keys(body).some((k) => /hash/i.test(k))).toBe(false);
      }
      for (const body of [got.body, inList]) expect(body.key).toBeUndefined();
      expect(JSON.stringify(listed.body)).not.toContain(secret);
      expect(JSON.stringify(got.body)).not.toContain(secret);
      // no key's plaintext, the instance admin's included, is ever listed
      expect(JSON.stringify(listed.body)).not.toContain(cp.adminKey.split('_').slice(2).join('_'));
    });

    it('refuses instance_admin and other unknown fields', async () => {
      const res = await admin()
        .post('/api/v1/api-keys', { name: 'sneaky', role: 'admin', instance_admin: true })
        .expect(400);
      expect((res.body as ApiError).errors?.map((e) => e.field)).toContain('instance_admin');
    });

    it('refuses scopes outside the role with 400 naming scopes', async () => {
      const res = await admin()
        .post('/api/v1/api-keys', { name: 'x', role: 'viewer', scopes: ['users:read', 'workers:write'] })
        .expect(400);
      expect((res.body as ApiError).errors?.[0]).toMatchObject({ field: 'scopes' });
      expect((res.body as ApiError).message).toMatch(/workers:write/);
      const unknown = await admin()
        .post('/api/v1/api-keys', { name: 'x', role: 'admin', scopes: ['root'] })
        .expect(400);
      expect((unknown.body as ApiError).errors?.[0]?.field).toBe('scopes.0');
    });

    it('refuses to let a key grant scopes it lacks itself (403 naming scopes)', async () => {
      const keyAdmin = await createApiKey(cp, cp.adminKey, {
        role: 'admin',
        scopes: ['api-keys:read', 'api-keys:write', 'users:read'],
      });
      const res = await cp
        .as(keyAdmin.key)
        .post('/api/v1/api-keys', { name: 'escalate', role: 'operator' })
        .expect(403);
      expect((res.body as ApiError).errors?.[0]).toMatchObject({ field: 'scopes' });
      expect((res.body as ApiError).message).toMatch(/worker-tokens:write/);
      const self = await cp
        .as(keyAdmin.key)
        .post('/api/v1/api-keys', {
          name: 'escalate',
          role: 'admin',
          scopes: ['api-keys:write', 'organizations:write'],
        })
        .expect(403);
      expect((self.body as ApiError).message).toMatch(/organizations:write/);
      // a subset of what it holds is fine
      const ok = await cp
        .as(keyAdmin.key)
        .post('/api/v1/api-keys', { name: 'narrow', role: 'viewer', scopes: ['users:read'] })
        .expect(201);
      expect(ok.body.scopes).toEqual(['users:read']);
    });

    it('refuses a user_id that is not a user of the organization', async () => {
      const res = await admin()
        .post('/api/v1/api-keys', {
          name: 'x',
          role: 'viewer',
          user_id: '00000000-0000-4000-8000-000000000000',
        })
        .expect(400);
      expect((res.body as ApiError).errors?.[0]?.field).toBe('user_id');
    });

    it('answers 404 for an API key id that does not exist', async () => {
      const id = '00000000-0000-4000-8000-000000000000';
      await admin().get(`/api/v1/api-keys/${id}`).expect(404);
      await admin().delete(`/api/v1/api-keys/${id}`).expect(404);
    });
  });

  describe('scopes and roles', () => {
    it('answers 403 when the key lacks the scope (viewer calling worker tokens)', async () => {
      const viewer = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
      const res = await cp.as(viewer.key).get('/api/v1/worker-tokens').expect(403);
      expect(res.body).toMatchObject({ statusCode: 403, error: 'forbidden' });
      expect((res.body as ApiError).message).toMatch(/worker-tokens:read/);
      await cp.as(viewer.key).post('/api/v1/worker-tokens', { name: 'no' }).expect(403);
      await cp.as(viewer.key).get('/api/v1/admin/workers').expect(403);
      await cp.as(viewer.key).get('/api/v1/admin/audit-log').expect(403);
      await cp.as(viewer.key).get('/api/v1/api-keys').expect(403);
      // what the role does grant works
      await cp.as(viewer.key).get('/api/v1/organizations/current').expect(200);
      await cp.as(viewer.key).get('/api/v1/users').expect(200);
    });

    it('checks the scope before validating the body (no schema leaks to a caller without the scope)', async () => {
      const viewer = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
      await cp.as(viewer.key).post('/api/v1/worker-tokens', { bogus: true }).expect(403);
    });

    it('honours a narrowed scope list: a key holds only the scopes it was given', async () => {
      const readOnly = await createApiKey(cp, cp.adminKey, {
        role: 'operator',
        scopes: ['worker-tokens:read'],
      });
      await cp.as(readOnly.key).get('/api/v1/worker-tokens').expect(200);
      await cp.as(readOnly.key).post('/api/v1/worker-tokens', { name: 'no' }).expect(403);
      await cp.as(readOnly.key).get('/api/v1/organizations/current').expect(403);
    });

    it('lets an operator manage worker tokens and drain workers, but not API keys or users', async () => {
      const op = await createApiKey(cp, cp.adminKey, { role: 'operator' });
      const t = await createWorkerToken(cp, op.key, { name: 'by operator' });
      expect(t['created_by']).toBe(`api_key:${op.id}`);
      const w = await registerWorker(cp, t.token, 'operator-worker');
      await cp.as(op.key).get('/api/v1/admin/workers').expect(200);
      const drained = await cp.as(op.key).post(`/api/v1/admin/workers/${w.worker_id}/drain`).expect(200);
      expect(drained.body.scheduling).toBe('draining');
      await cp.as(op.key).post(`/api/v1/admin/workers/${w.worker_id}/uncordon`).expect(200);
      await cp.as(op.key).get('/api/v1/admin/audit-log').expect(200);
      await cp.as(op.key).delete(`/api/v1/worker-tokens/${t.id}`).expect(200);

      await cp.as(op.key).post('/api/v1/api-keys', { name: 'no', role: 'viewer' }).expect(403);
      await cp.as(op.key).get('/api/v1/api-keys').expect(403);
      await cp.as(op.key).delete(`/api/v1/api-keys/${op.id}`).expect(403);
      await cp.as(op.key).post('/api/v1/users', { email: 'no@example.com' }).expect(403);
      await cp.as(op.key).get('/api/v1/users').expect(200);
      await cp.as(op.key).get('/api/v1/organizations').expect(403);
    });

    it('rate-limits a key to rate_limit_per_hour: the next call gets 429 with Retry-After', async () => {
      const k = await createApiKey(cp, cp.adminKey, { role: 'viewer', rate_limit_per_hour: 2 });
      await cp.as(k.key).get('/api/v1/organizations/current').expect(200);
      await cp.as(k.key).get('/api/v1/users').expect(200);
      const res = await cp.as(k.key).get('/api/v1/organizations/current').expect(429);
      expect(res.body).toMatchObject({ statusCode: 429, error: 'rate_limited' });
      const retryAfter = Number(res.headers['retry-after']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      // other keys are not affected
      await admin().get('/api/v1/organizations/current').expect(200);
    });
  });
});
