import { waitFor } from '@agentfleet/testing';
import { createApiKey, createWorkerToken, registerWorker } from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

describe('fleet and key guards (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane(); // 500 ms heartbeats, 1.5 s grace
  });
  afterAll(async () => {
    await cp.close();
  });
  const admin = () => cp.as(cp.adminKey);

  it('reaps a worker that registered but died before its first heartbeat', async () => {
    const t = await createWorkerToken(cp, cp.adminKey);
    const r = await registerWorker(cp, t.token, 'never-beats');
    await waitFor(
      async () => (await admin().get(`/api/v1/admin/workers/${r.worker_id}`)).body.status === 'lost',
      {
        timeoutMs: 15_000,
        what: 'the silent worker to be lost',
      },
    );
  });

  it('lets a stopping worker deregister with no body at all', async () => {
    const t = await createWorkerToken(cp, cp.adminKey);
    const r = await registerWorker(cp, t.token, 'no-body');
    const res = await cp
      .http()
      .post(`/api/v1/workers/${r.worker_id}/deregister`)
      .set('Authorization', `Bearer ${t.token}`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('offline');
  });

  it('refuses to drain or cordon an offline worker with 409, but uncordon is allowed', async () => {
    const t = await createWorkerToken(cp, cp.adminKey);
    const r = await registerWorker(cp, t.token, 'offline-one');
    await cp.as(t.token).post(`/api/v1/workers/${r.worker_id}/deregister`, {}).expect(200);
    const drain = await admin().post(`/api/v1/admin/workers/${r.worker_id}/drain`).expect(409);
    expect(drain.body.error).toBe('conflict');
    await admin().post(`/api/v1/admin/workers/${r.worker_id}/cordon`).expect(409);
    await admin().post(`/api/v1/admin/workers/${r.worker_id}/uncordon`).expect(200);
  });

  it('forbids an ordinary admin key to revoke the instance-admin key', async () => {
    const other = await createApiKey(cp, cp.adminKey, { role: 'admin' });
    const keys = (await admin().get('/api/v1/api-keys?limit=200').expect(200)).body.items as {
      id: string;
      instance_admin: boolean;
    }[];
    const instanceAdmin = keys.find((k) => k.instance_admin)!;
    const res = await cp.as(other.key).delete(`/api/v1/api-keys/${instanceAdmin.id}`).expect(403);
    expect(res.body.message).toContain('instance-admin');
    await admin().get('/api/v1/organizations/current').expect(200);
  });

  it('refuses a key for a user with a role the user does not have, naming role', async () => {
    const user = (
      await admin()
        .post('/api/v1/users', { email: 'v@example.com', roles: ['viewer'] })
        .expect(201)
    ).body as { id: string };
    const res = await admin()
      .post('/api/v1/api-keys', { name: 'k', role: 'admin', user_id: user.id })
      .expect(400);
    expect(res.body.errors[0].field).toBe('role');
    await admin().post('/api/v1/api-keys', { name: 'k', role: 'viewer', user_id: user.id }).expect(201);
  });

  it('answers unknown routes in the API error vocabulary', async () => {
    const res = await admin().get('/api/v1/no-such-thing').expect(404);
    expect(res.body).toMatchObject({ statusCode: 404, error: 'not_found' });
  });
});
