import { createHash, randomBytes } from 'node:crypto';
import {
  type TestDatabase,
  type TestRedis,
  createTestDatabase,
  createTestRedis,
  waitFor,
} from '@agentfleet/testing';
import { Client } from 'pg';
import { type ControlPlaneProcess, startControlPlaneProcess } from './support/control-plane-process';
import { type RunningProcess, startExecutionWorker } from './support/processes';

const SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`;
/** The values under test: each must show up nowhere but inside the job's process. */
const VALUE = `sk-e2e-${randomBytes(12).toString('hex')}`;
const OLD_VALUE = `sk-old-${randomBytes(12).toString('hex')}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Job {
  id: string;
  status: string;
  error: string | null;
  result: unknown;
  env_names: string[];
  env_secrets: Record<string, string>;
}

/**
 * Organization secrets referenced from job env values, end to end: a control plane and a worker as real
 * processes (logging at debug level, so that "never logged" is checked where it could happen), the
 * process runtime, PostgreSQL and Redis.
 */
describe('job env values from organization secrets', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let cp: ControlPlaneProcess;
  let worker: RunningProcess;
  let workerToken: string;

  const until = (id: string, statuses = ['completed', 'failed', 'oom', 'timed_out', 'cancelled']) =>
    waitFor(
      async () => {
        const j = (await cp.api<Job>('GET', `/api/v1/jobs/${id}`)).body;
        return statuses.includes(j.status) ? j : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `job ${id} to end` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- worker ---\n${worker.output().slice(-3000)}`);
    });
  const sql = async <T>(query: string, params: unknown[] = []): Promise<T[]> => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(query, params)).rows as T[];
    } finally {
      await c.end();
    }
  };
  /** Every key of this test's Redis namespace with its content, whatever its type. */
  const redisDump = async (): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const k of await redis.redis.keys(`${redis.prefix}*`)) {
      const type = await redis.redis.type(k);
      out[k] =
        type === 'hash'
          ? JSON.stringify(await redis.redis.hgetall(k))
          : type === 'stream'
            ? JSON.stringify(await redis.redis.xrange(k, '-', '+'))
            : type === 'string'
              ? ((await redis.redis.get(k)) ?? '')
              : type === 'list'
                ? JSON.stringify(await redis.redis.lrange(k, 0, -1))
                : type === 'zset'
                  ? JSON.stringify(await redis.redis.zrange(k, 0, -1))
                  : type === 'set'
                    ? JSON.stringify(await redis.redis.smembers(k))
                    : '';
    }
    return out;
  };
  /** The BullMQ entries (job hashes with a payload) of this test's queues. */
  const queuedPayloads = async () =>
    Object.entries(await redisDump()).filter(([k, v]) => k.includes('bull:') && v.includes('"data"'));
  /** Every row of every table, as JSON text. */
  const databaseDump = async () => {
    const tables = await sql<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    let all = '';
    for (const t of tables)
      all += JSON.stringify(await sql(`SELECT row_to_json(t) AS r FROM "${t.table_name}" t`));
    return all;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = createTestRedis();
    cp = await startControlPlaneProcess({
      AGENTFLEET_DATABASE_URL: db.url,
      AGENTFLEET_MIGRATE_ON_START: 'false',
      AGENTFLEET_REDIS_PREFIX: redis.prefix,
      AGENTFLEET_SECRET_KEYS: SECRET_KEYS,
      AGENTFLEET_LOG_LEVEL: 'debug',
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '500',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '3000',
    });
    for (const pool of ['default', 'later'])
      expect(
        (
          await cp.api('POST', '/api/v1/execution-targets', {
            name: pool,
            type: 'process',
            worker_pool: pool,
          })
        ).status,
      ).toBe(201);
    const t = await cp.api<{ token: string }>('POST', '/api/v1/worker-tokens', {
      name: 'secrets-worker',
      capabilities: ['execute'],
    });
    workerToken = t.body.token;
    worker = await startExecutionWorker(workerToken, cp.url, {
      AGENTFLEET_WORKER_RUNTIMES: 'process',
      AGENTFLEET_LOG_LEVEL: 'debug',
    });
  }, 120_000);

  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker?.exited;
    cp?.kill('SIGTERM');
    await cp?.exited;
    await redis?.cleanup();
    await db?.drop();
  });

  it('a job sees the value of the secret its env references; the value is in no API response, job row, queue payload, audit entry or log', async () => {
    const created = await cp.api('PUT', '/api/v1/secrets/OPENAI_KEY', {
      value: OLD_VALUE,
      description: 'prod',
    });
    expect(created.status).toBe(201);
    const replaced = await cp.api('PUT', '/api/v1/secrets/OPENAI_KEY', { value: VALUE });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ name: 'OPENAI_KEY', description: 'prod' });

    // the job proves it saw the value by its digest: the value itself must stay out of its output too
    const script = [
      "const v = process.env.API_KEY ?? '';",
      "const sha = require('node:crypto').createHash('sha256').update(v).digest('hex');",
      "console.log('digest ' + sha);",
      "console.log(JSON.stringify({ v: 1, type: 'result', output: { sha, length: v.length, mode: process.env.MODE } }));",
    ].join(' ');
    const submitted = await cp.api<Job>('POST', '/api/v1/jobs', {
      command: ['node', '-e', script],
      env: { MODE: 'plain', API_KEY: { secret: 'OPENAI_KEY' } },
    });
    expect(submitted.status).toBe(201);
    expect(submitted.body).toMatchObject({
      env_names: ['MODE', 'API_KEY'],
      env_secrets: { API_KEY: 'OPENAI_KEY' },
    });
    const done = await until(submitted.body.id);
    expect(done).toMatchObject({
      status: 'completed',
      result: { sha: sha256(VALUE), length: VALUE.length, mode: 'plain' },
    });
    const logs = await cp.api<{ items: { message: string }[] }>('GET', `/api/v1/jobs/${done.id}/logs`);
    expect(logs.body.items.map((l) => l.message)).toContain(`digest ${sha256(VALUE)}`);

    // the job row holds the reference; the queue payload its name, not its value
    const [row] = await sql<{ env: unknown }>('SELECT env FROM execution_jobs WHERE id = $1', [done.id]);
    expect(row!.env).toEqual({ MODE: 'plain', API_KEY: { secret: 'OPENAI_KEY' } });
    const payload = (await queuedPayloads()).find(([, v]) => v.includes(done.id));
    expect(payload?.[1]).toContain('\\"secret_env\\":{\\"API_KEY\\":\\"OPENAI_KEY\\"}');
    const actions = await sql<{ action: string }>(
      `SELECT action FROM audit_log WHERE resource_id IN ('OPENAI_KEY', $1) ORDER BY created_at`,
      [done.id],
    );
    expect(actions.map((a) => a.action)).toEqual([
      'secret.created',
      'secret.updated',
      'job.submitted',
      'job.secrets_resolved',
    ]);

    const responses = [
      created.text,
      replaced.text,
      (await cp.api('GET', '/api/v1/secrets')).text,
      (await cp.api('GET', '/api/v1/secrets/OPENAI_KEY')).text,
      (await cp.api('GET', `/api/v1/jobs/${done.id}`)).text,
      (await cp.api('GET', '/api/v1/jobs')).text,
      (await cp.api('GET', `/api/v1/jobs/${done.id}/logs`)).text,
      (await cp.api('GET', '/api/v1/admin/audit-log?limit=200')).text,
    ].join('\n');
    const stores = { database: await databaseDump(), redis: JSON.stringify(await redisDump()) };
    const logsOf = { controlPlane: cp.output(), worker: worker.output() };
    // the dumps are the real thing: they hold the secret's name, its sealed row and the worker's fetch of it
    expect(stores.database).toContain('"name":"OPENAI_KEY"');
    expect(stores.database).toMatch(/"value_sealed":"v1:k1:/);
    expect(stores.redis).toContain(done.id);
    expect(logsOf.controlPlane).toContain(`/api/v1/workers/jobs/${done.id}/secret-env`);
    expect(logsOf.worker).toContain(done.id);
    for (const v of [VALUE, OLD_VALUE]) {
      expect(responses).not.toContain(v);
      expect(stores.database).not.toContain(v);
      expect(stores.redis).not.toContain(v);
      expect(logsOf.controlPlane).not.toContain(v);
      expect(logsOf.worker).not.toContain(v);
    }
  });

  it('refuses a job referencing a secret that does not exist with 400 naming env.<variable>; nothing stored or enqueued', async () => {
    const jobsBefore = await sql<{ n: string }>('SELECT count(*) AS n FROM execution_jobs');
    const payloadsBefore = (await queuedPayloads()).length;
    const res = await cp.api<{ errors: { field: string; message: string }[] }>('POST', '/api/v1/jobs', {
      command: ['node', '-e', '0'],
      env: { API_KEY: { secret: 'OPENAI_KEY' }, TOKEN: { secret: 'NO_SUCH_SECRET' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { field: 'env.TOKEN', message: 'env.TOKEN refers to secret NO_SUCH_SECRET, which does not exist' },
    ]);
    const malformed = await cp.api<{ errors: { field: string }[] }>('POST', '/api/v1/jobs', {
      command: ['node', '-e', '0'],
      env: { TOKEN: { secret: 'not a name' } },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors[0]!.field).toMatch(/^env\.TOKEN/);
    expect(await sql('SELECT count(*) AS n FROM execution_jobs')).toEqual(jobsBefore);
    expect((await queuedPayloads()).length).toBe(payloadsBefore);
  });

  it("treats another organization's secret as missing: not visible, not referenceable, not resolvable by its workers", async () => {
    expect((await cp.api('PUT', '/api/v1/secrets/ONLY_IN_A', { value: VALUE })).status).toBe(201);
    const org = await cp.api<{ admin_key: { key: string } }>('POST', '/api/v1/organizations', {
      name: `other-${randomBytes(3).toString('hex')}`,
    });
    expect(org.status).toBe(201);
    const b = org.body.admin_key.key;
    expect((await cp.api('GET', '/api/v1/secrets/ONLY_IN_A', undefined, b)).status).toBe(404);
    expect((await cp.api('DELETE', '/api/v1/secrets/ONLY_IN_A', undefined, b)).status).toBe(404);
    expect((await cp.api('GET', '/api/v1/secrets', undefined, b)).body).toMatchObject({
      items: [],
      total: 0,
    });
    expect(
      (await cp.api('POST', '/api/v1/execution-targets', { name: 'b', type: 'process' }, b)).status,
    ).toBe(201);
    const ref = await cp.api<{ errors: { field: string }[] }>(
      'POST',
      '/api/v1/jobs',
      { command: ['node', '-e', '0'], env: { KEY: { secret: 'ONLY_IN_A' } } },
      b,
    );
    expect(ref.status).toBe(400);
    expect(ref.body.errors[0]!.field).toBe('env.KEY');
    // organization A's secret is untouched, and B may have its own of the same name
    expect((await cp.api('GET', '/api/v1/secrets/ONLY_IN_A')).status).toBe(200);
    expect((await cp.api('PUT', '/api/v1/secrets/ONLY_IN_A', { value: 'b-value' }, b)).status).toBe(201);

    // a worker token of B cannot read the secrets of A's jobs; A's own token only for a starting attempt
    const job = await cp.api<Job>('POST', '/api/v1/jobs', {
      command: ['node', '-e', '0'],
      env: { KEY: { secret: 'ONLY_IN_A' } },
    });
    await until(job.body.id);
    const tokenB = await cp.api<{ token: string }>(
      'POST',
      '/api/v1/worker-tokens',
      { name: 'b-worker', capabilities: ['execute'] },
      b,
    );
    const asB = await cp.api(
      'GET',
      `/api/v1/workers/jobs/${job.body.id}/secret-env?attempt=1`,
      undefined,
      tokenB.body.token,
    );
    expect(asB.status).toBe(404);
    const ended = await cp.api(
      'GET',
      `/api/v1/workers/jobs/${job.body.id}/secret-env?attempt=1`,
      undefined,
      workerToken,
    );
    expect(ended.status).toBe(409);
    expect(asB.text + ended.text).not.toContain(VALUE);
    expect((await cp.api('GET', `/api/v1/workers/jobs/${job.body.id}/secret-env?attempt=1`)).status).toBe(
      401,
    );
  });

  it('fails a job whose secret was deleted before it started, naming the variable', async () => {
    expect((await cp.api('PUT', '/api/v1/secrets/SHORT_LIVED', { value: VALUE })).status).toBe(201);
    // pool "later" has no worker yet: the job waits in its queue while the secret goes away
    const job = await cp.api<Job>('POST', '/api/v1/jobs', {
      pool: 'later',
      command: ['node', '-e', 'console.log(process.env.DB_PASSWORD)'],
      env: { DB_PASSWORD: { secret: 'SHORT_LIVED' } },
    });
    expect(job.status).toBe(201);
    const deleted = await cp.api('DELETE', '/api/v1/secrets/SHORT_LIVED');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ name: 'SHORT_LIVED' });
    const t = await cp.api<{ token: string }>('POST', '/api/v1/worker-tokens', {
      name: 'later-worker',
      capabilities: ['execute'],
      pools: ['later'],
    });
    const later = await startExecutionWorker(t.body.token, cp.url, {
      AGENTFLEET_WORKER_RUNTIMES: 'process',
      AGENTFLEET_WORKER_INSTANCE_ID: 'later-worker',
    });
    try {
      const ended = await until(job.body.id);
      expect(ended.status).toBe('failed');
      expect(ended.error).toBe(
        'secret env unavailable: env.DB_PASSWORD refers to secret SHORT_LIVED, which no longer exists',
      );
      // it never ran: no output of it
      const logs = await cp.api<{ items: unknown[] }>('GET', `/api/v1/jobs/${job.body.id}/logs`);
      expect(logs.body.items).toEqual([]);
    } finally {
      later.kill('SIGTERM');
      await later.exited;
    }
  });

  it('the secrets API returns metadata only, never a value, and follows the scopes', async () => {
    const put = await cp.api<Record<string, unknown>>('PUT', '/api/v1/secrets/API_TOKEN', {
      value: VALUE,
      description: 'for the CI',
    });
    expect(put.status).toBe(201);
    expect(Object.keys(put.body).sort()).toEqual(
      [
        'created_at',
        'created_by',
        'description',
        'name',
        'organization_id',
        'updated_at',
        'updated_by',
      ].sort(),
    );
    const editor = await cp.api<{ key: string }>('POST', '/api/v1/api-keys', { name: 'ed', role: 'editor' });
    const viewer = await cp.api<{ key: string }>('POST', '/api/v1/api-keys', { name: 'vw', role: 'viewer' });
    const jobsOnly = await cp.api<{ key: string }>('POST', '/api/v1/api-keys', {
      name: 'jobs-only',
      role: 'editor',
      scopes: ['jobs:write'],
    });
    const asEditor = await cp.api('GET', '/api/v1/secrets/API_TOKEN', undefined, editor.body.key);
    expect(asEditor.status).toBe(200);
    expect((await cp.api('PUT', '/api/v1/secrets/API_TOKEN', { value: 'x' }, editor.body.key)).status).toBe(
      403,
    );
    expect((await cp.api('DELETE', '/api/v1/secrets/API_TOKEN', undefined, editor.body.key)).status).toBe(
      403,
    );
    expect((await cp.api('GET', '/api/v1/secrets', undefined, viewer.body.key)).status).toBe(403);
    const noScope = await cp.api<{ errors: { field: string }[] }>(
      'POST',
      '/api/v1/jobs',
      { command: ['node', '-e', '0'], env: { T: { secret: 'API_TOKEN' } } },
      jobsOnly.body.key,
    );
    expect(noScope.status).toBe(403);
    expect(noScope.body.errors[0]!.field).toBe('env.T');
    expect((await cp.api('PUT', '/api/v1/secrets/bad-name', { value: 'x' })).status).toBe(400);
    const del = await cp.api('DELETE', '/api/v1/secrets/API_TOKEN');
    expect(del.status).toBe(200);
    expect((await cp.api('GET', '/api/v1/secrets/API_TOKEN')).status).toBe(404);
    for (const r of [put, asEditor, del]) expect(r.text).not.toContain(VALUE);
    const docs = (await fetch(`${cp.url}/docs/openapi.json`).then((r) => r.json())) as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>
      >;
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(docs.paths['/api/v1/secrets/{name}'] ?? {}).sort()).toEqual(['delete', 'get', 'put']);
    expect(Object.keys(docs.paths['/api/v1/secrets'] ?? {})).toEqual(['get']);
    expect(Object.keys(docs.paths['/api/v1/workers/jobs/{id}/secret-env'] ?? {})).toEqual(['get']);
    const body = JSON.stringify(docs.paths['/api/v1/secrets/{name}']!['put']!.requestBody);
    const ref = /"\$ref":"#\/components\/schemas\/([^"]+)"/.exec(body)?.[1];
    expect(Object.keys((docs.components.schemas[ref!] as { properties: object }).properties)).toEqual([
      'value',
      'description',
    ]);
    // a job's env documents both kinds of value
    expect(JSON.stringify(docs.components.schemas)).toContain('Name of a secret of the organization');
    expect(JSON.stringify(docs.components.schemas)).toContain(
      'A value is a string, or {\\"secret\\": \\"NAME\\"}',
    );
  });
});
