import { type ApiError, createWorkerToken, registerWorker, totalOf } from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

/** ARCHITECTURE.md §5: bad input gets a clear 4xx with the field at fault; nothing half-written stays behind. */
describe('bad input is refused with the field at fault, and writes nothing (HTTP API)', () => {
  let cp: InProcessControlPlane & { url: string };

  beforeAll(async () => {
    // a 1 KB body limit: big enough for every valid request here, small enough to test 413
    cp = await startInProcessControlPlane({
      AGENTFLEET_BODY_LIMIT: '1kb',
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
  });
  afterAll(async () => {
    await cp.close();
  });

  const admin = () => cp.as(cp.adminKey);
  const fields = (body: ApiError) => (body.errors ?? []).map((e) => e.field);

  /** Counts that a refused request must leave as they were. */
  async function snapshot() {
    return {
      tokens: await totalOf(cp, cp.adminKey, '/api/v1/worker-tokens'),
      keys: await totalOf(cp, cp.adminKey, '/api/v1/api-keys'),
      users: await totalOf(cp, cp.adminKey, '/api/v1/users'),
      workers: await totalOf(cp, cp.adminKey, '/api/v1/admin/workers'),
      audit: await totalOf(cp, cp.adminKey, '/api/v1/admin/audit-log'),
    };
  }

  /** Runs the refused request and checks its status, the shape of the error, and that nothing was written. */
  async function refused(
    send: () => PromiseLike<{ status: number; body: ApiError }>,
    status: number,
  ): Promise<ApiError> {
    const before = await snapshot();
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({
      statusCode: status,
      error: expect.any(String),
      message: expect.any(String),
    });
    expect(await snapshot()).toEqual(before);
    return res.body;
  }

  const rawPost = (path: string, raw: string, contentType = 'application/json') =>
    cp
      .http()
      .post(path)
      .set('Authorization', `Bearer ${cp.adminKey}`)
      .set('Content-Type', contentType)
      .send(raw);

  describe('request bodies', () => {
    it('refuses malformed JSON with 400 and errors[0].field "body"', async () => {
      const body = await refused(() => rawPost('/api/v1/worker-tokens', '{"name": "half'), 400);
      expect(body.errors?.[0]?.field).toBe('body');
      expect(body.message).toMatch(/not valid JSON/);
    });

    it('refuses a JSON body that is not an object', async () => {
      for (const raw of ['[]', '"name"', 'null', '42']) {
        const body = await refused(() => rawPost('/api/v1/worker-tokens', raw), 400);
        expect(body.errors?.length).toBeGreaterThan(0);
      }
    });

    it('refuses a body that is not JSON at all', async () => {
      const body = await refused(
        () => rawPost('/api/v1/worker-tokens', 'name=x', 'application/x-www-form-urlencoded'),
        400,
      );
      expect(body.errors?.length).toBeGreaterThan(0);
      await refused(
        () => cp.http().post('/api/v1/worker-tokens').set('Authorization', `Bearer ${cp.adminKey}`),
        400,
      );
    });

    it('refuses wrong types, naming each field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ name: 123 }, 'name'],
        [{ name: 'x', max_concurrent_tasks: '4' }, 'max_concurrent_tasks'],
        [{ name: 'x', max_concurrent_tasks: 1.5 }, 'max_concurrent_tasks'],
        [{ name: 'x', max_concurrent_tasks: 0 }, 'max_concurrent_tasks'],
        [{ name: 'x', capabilities: 'execute' }, 'capabilities'],
        [{ name: 'x', capabilities: ['fly'] }, 'capabilities.0'],
        [{ name: 'x', capabilities: [] }, 'capabilities'],
        [{ name: 'x', capabilities: ['execute', 'execute'] }, 'capabilities'],
        [{ name: 'x', pools: ['Not A Pool'] }, 'pools.0'],
        [{ name: 'x', labels: { zone: 1 } }, 'labels.zone'],
        [{ name: 'x', labels: ['a'] }, 'labels'],
        [{ name: 'x', expires_at: 'tomorrow' }, 'expires_at'],
        [{ name: '   ' }, 'name'],
        [{}, 'name'],
      ];
      for (const [payload, field] of cases) {
        const body = await refused(() => admin().post('/api/v1/worker-tokens', payload), 400);
        expect({ payload, fields: fields(body) }).toEqual({
          payload,
          fields: expect.arrayContaining([field]),
        });
      }
    });

    it('refuses unknown fields, naming them', async () => {
      const body = await refused(
        () => admin().post('/api/v1/worker-tokens', { name: 'x', token_hash: 'mine', owner: 'me' }),
        400,
      );
      expect(fields(body).join(', ')).toMatch(/token_hash/);
      expect(fields(body).join(', ')).toMatch(/owner/);
      expect(body.message).toMatch(/unknown field/);
      const key = await refused(
        () => admin().post('/api/v1/api-keys', { name: 'x', role: 'viewer', prefix: 'x' }),
        400,
      );
      expect(fields(key)).toContain('prefix');
      const user = await refused(
        () => admin().post('/api/v1/users', { email: 'u@example.com', password: 'x' }),
        400,
      );
      expect(fields(user)).toContain('password');
    });

    it('refuses over-long strings (256 characters), naming the field; 255 is accepted', async () => {
      const long = 'n'.repeat(256);
      expect(
        fields(await refused(() => admin().post('/api/v1/worker-tokens', { name: long }), 400)),
      ).toContain('name');
      expect(
        fields(await refused(() => admin().post('/api/v1/api-keys', { name: long, role: 'viewer' }), 400)),
      ).toContain('name');
      expect(
        fields(
          await refused(() => admin().post('/api/v1/users', { email: 'l@example.com', name: long }), 400),
        ),
      ).toContain('name');
      const ok = await createWorkerToken(cp, cp.adminKey, { name: 'n'.repeat(255) });
      expect((ok['name'] as string).length).toBe(255);
    });

    it('refuses a body over the size limit with 413 before anything runs', async () => {
      const big = { name: 'x', labels: { filler: 'y'.repeat(200) }, padding: 'z'.repeat(2048) };
      const body = await refused(() => admin().post('/api/v1/worker-tokens', big), 413);
      expect(body.message).toMatch(/limit/);
      // even unauthenticated: the size is checked before the credential
      const anon = await cp.http().post('/api/v1/worker-tokens').send(big);
      expect(anon.status).toBe(413);
    });

    it('refuses API-key, user and organization bodies field by field', async () => {
      expect(
        fields(await refused(() => admin().post('/api/v1/api-keys', { name: 'x', role: 'root' }), 400)),
      ).toContain('role');
      expect(
        fields(
          await refused(
            () => admin().post('/api/v1/api-keys', { name: 'x', role: 'viewer', rate_limit_per_hour: -1 }),
            400,
          ),
        ),
      ).toContain('rate_limit_per_hour');
      expect(
        fields(
          await refused(
            () => admin().post('/api/v1/api-keys', { name: 'x', role: 'viewer', user_id: 'bob' }),
            400,
          ),
        ),
      ).toContain('user_id');
      expect(
        fields(await refused(() => admin().post('/api/v1/users', { email: 'not-an-email' }), 400)),
      ).toContain('email');
      expect(
        fields(
          await refused(() => admin().post('/api/v1/users', { email: 'r@example.com', roles: ['god'] }), 400),
        ),
      ).toContain('roles.0');
      expect(
        fields(await refused(() => admin().post('/api/v1/organizations', { name: 'Bad Name!' }), 400)),
      ).toContain('name');
    });

    it('refuses an empty user update and a duplicate user email', async () => {
      const user = await admin().post('/api/v1/users', { email: 'Dup@Example.com' }).expect(201);
      expect(user.body.email).toBe('dup@example.com');
      await refused(() => admin().patch(`/api/v1/users/${user.body.id}`, {}), 400);
      expect(
        fields(await refused(() => admin().patch(`/api/v1/users/${user.body.id}`, { is_active: 'no' }), 400)),
      ).toContain('is_active');
      const dup = await refused(() => admin().post('/api/v1/users', { email: 'dup@EXAMPLE.com' }), 409);
      expect(fields(dup)).toContain('email');
    });

    it('refuses NUL characters (which PostgreSQL cannot store) with 400 naming the field, not 500', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const cases: [string, () => PromiseLike<{ status: number; body: ApiError }>][] = [
        ['name', () => admin().post('/api/v1/worker-tokens', { name: 'a\u0000b' })],
        [
          'labels.zone',
          () => admin().post('/api/v1/worker-tokens', { name: 'x', labels: { zone: 'eu\u0000' } }),
        ],
        ['name', () => admin().post('/api/v1/users', { email: 'nul@example.com', name: 'x\u0000y' })],
        ['name', () => admin().post('/api/v1/api-keys', { name: '\u0000', role: 'viewer' })],
        [
          'settings.a.b',
          () => admin().post('/api/v1/organizations', { name: 'nul-org', settings: { a: { b: 'x\u0000' } } }),
        ],
        [
          'hostname',
          () =>
            cp.as(t.token).post('/api/v1/workers/register', {
              instance_id: 'nul',
              hostname: 'h\u0000',
              version: '1',
              protocol_version: 1,
              capacity: { memory_mb: 1, cpus: 1 },
            }),
        ],
        [
          'reason',
          () =>
            cp
              .as(t.token)
              .post('/api/v1/workers/00000000-0000-4000-8000-000000000000/deregister', { reason: '\u0000' }),
        ],
      ];
      for (const [field, call] of cases) {
        const body = await refused(call, 400);
        expect({ field, got: fields(body) }).toEqual({ field, got: [field] });
      }
      const orgs = await admin().get('/api/v1/organizations').expect(200);
      expect(orgs.body.items.map((o: { name: string }) => o.name)).not.toContain('nul-org');
      const query = await admin().get('/api/v1/admin/audit-log?action=a%00b').expect(400);
      expect(fields(query.body as ApiError)).toEqual(['action']);
    });

    it('answers 409 naming the field for any unique column, external_id included', async () => {
      await admin().post('/api/v1/users', { email: 'ext1@example.com', external_id: 'sso|42' }).expect(201);
      const dup = await refused(
        () => admin().post('/api/v1/users', { email: 'ext2@example.com', external_id: 'sso|42' }),
        409,
      );
      expect(dup).toMatchObject({ error: 'conflict', errors: [{ field: 'external_id' }] });
      expect(dup.message).not.toContain('sso|42');
    });

    it('refuses a bad registration body without recording a worker', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const body = await refused(
        () =>
          cp.as(t.token).post('/api/v1/workers/register', {
            instance_id: '',
            hostname: 'h',
            version: '1',
            protocol_version: 1,
            capacity: { memory_mb: -1, cpus: 1 },
          }),
        400,
      );
      expect(fields(body)).toEqual(expect.arrayContaining(['instance_id', 'capacity.memory_mb']));
    });
  });

  describe('paths and queries', () => {
    it('refuses an invalid uuid in a path with 400 naming id', async () => {
      const t = await createWorkerToken(cp, cp.adminKey);
      const w = await registerWorker(cp, t.token, 'uuid-check');
      expect(w.worker_id).toEqual(expect.any(String));
      const calls: [string, () => PromiseLike<{ status: number; body: ApiError }>][] = [
        ['GET users', () => admin().get('/api/v1/users/not-a-uuid')],
        ['PATCH users', () => admin().patch('/api/v1/users/not-a-uuid', { name: 'x' })],
        ['GET api-keys', () => admin().get('/api/v1/api-keys/123')],
        ['DELETE api-keys', () => admin().delete('/api/v1/api-keys/123')],
        ['GET worker-tokens', () => admin().get("/api/v1/worker-tokens/1' OR '1'='1")],
        ['DELETE worker-tokens', () => admin().delete('/api/v1/worker-tokens/zzz')],
        ['GET admin/workers', () => admin().get('/api/v1/admin/workers/zzz')],
        ['drain', () => admin().post('/api/v1/admin/workers/zzz/drain')],
        ['cordon', () => admin().post('/api/v1/admin/workers/zzz/cordon')],
        ['uncordon', () => admin().post('/api/v1/admin/workers/zzz/uncordon')],
        ['deregister', () => cp.as(t.token).post('/api/v1/workers/zzz/deregister', {})],
      ];
      for (const [what, call] of calls) {
        const body = await refused(call, 400);
        expect({ what, field: body.errors?.[0]?.field }).toEqual({ what, field: 'id' });
      }
    });

    it('refuses bad pagination and unknown query parameters', async () => {
      for (const [query, field] of [
        ['limit=0', 'limit'],
        ['limit=201', 'limit'],
        ['limit=ten', 'limit'],
        ['offset=-1', 'offset'],
        ['sort=name', 'sort'],
      ]) {
        const res = await admin().get(`/api/v1/worker-tokens?${query}`).expect(400);
        expect({ query, fields: fields(res.body as ApiError) }).toEqual({ query, fields: [field] });
      }
      const audit = await admin()
        .get(`/api/v1/admin/audit-log?action=${'a'.repeat(101)}`)
        .expect(400);
      expect(fields(audit.body as ApiError)).toEqual(['action']);
    });

    it('answers 404 in the common error shape for an unknown route', async () => {
      const res = await admin().get('/api/v1/nothing-here').expect(404);
      expect(res.body).toMatchObject({ statusCode: 404, message: expect.any(String) });
    });
  });
});
