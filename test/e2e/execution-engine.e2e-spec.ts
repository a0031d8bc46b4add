import { type FakeLlmProvider, startFakeLlmProvider, waitFor } from '@agentfleet/testing';
import { Client } from 'pg';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';
import { type RunningProcess, startExecutionWorker } from './support/processes';

const SECRET_KEY = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
const API_KEY = 'sk-test-do-not-leak-42';

/** An engine job: the real agent-runtime image calls a local server speaking the OpenAI wire format. */
describe('engine jobs (prompt → agent-runtime → LLM provider)', () => {
  let cp: InProcessControlPlane & { url: string };
  let worker: RunningProcess;
  let llm: FakeLlmProvider;

  beforeAll(async () => {
    llm = await startFakeLlmProvider({
      format: 'openai',
      apiKey: API_KEY,
      replies: [{ kind: 'text', text: 'Paris', promptTokens: 11, completionTokens: 2 }],
    });
    cp = await startInProcessControlPlane({ AGENTFLEET_SECRET_KEYS: SECRET_KEY });
    // host networking: the container reaches the fake provider on this machine's loopback
    await cp
      .as(cp.adminKey)
      .post('/api/v1/execution-targets', {
        name: 'docker',
        type: 'docker',
        connection: { network_mode: 'host' },
        allowed_images: ['agentfleet/*'],
      })
      .expect(201);
    const token = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/worker-tokens', { name: 'w', capabilities: ['execute'] })
        .expect(201)
    ).body as { token: string };
    worker = await startExecutionWorker(token.token, cp.url);
  });

  afterAll(async () => {
    worker.kill('SIGTERM');
    await worker.exited;
    await cp.close();
    await llm.close();
  });

  it('runs a prompt on the default engine: usage and result recorded, the key sealed at rest and never in Redis or logs', async () => {
    const engine = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/execution-engines', {
          name: 'fake-openai',
          provider: 'openai',
          base_url: llm.baseUrl,
          model: 'gpt-test',
          api_key: API_KEY,
          is_default: true,
        })
        .expect(201)
    ).body as { id: string; has_api_key: boolean };
    expect(engine.has_api_key).toBe(true);
    expect(JSON.stringify(engine)).not.toContain(API_KEY);

    const job = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/jobs', { prompt: 'Capital of France?', memory_limit_mb: 256 })
        .expect(201)
    ).body as { id: string };
    const done = await waitFor(
      async () => {
        const j = (await cp.as(cp.adminKey).get(`/api/v1/jobs/${job.id}`)).body as { status: string };
        return ['completed', 'failed', 'oom', 'timed_out'].includes(j.status) ? j : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the engine job' },
    );
    expect(done).toMatchObject({
      status: 'completed',
      result: 'Paris',
      usage: { prompt_tokens: 11, completion_tokens: 2 },
    });
    expect(llm.requests.at(-1)?.headers['authorization']).toBe(`Bearer ${API_KEY}`);

    const c = new Client({ connectionString: cp.db.url });
    await c.connect();
    const rows = await c.query<{ handler_config: unknown }>('SELECT handler_config FROM execution_engines');
    const jobs = await c.query<{ env: unknown }>('SELECT env FROM execution_jobs');
    await c.end();
    expect(JSON.stringify(rows.rows)).not.toContain(API_KEY);
    expect(JSON.stringify(jobs.rows)).not.toContain(API_KEY);
    const keys = await cp.redis.redis.keys(`${cp.redis.prefix}*`);
    for (const k of keys) {
      const type = await cp.redis.redis.type(k);
      const dump =
        type === 'hash'
          ? JSON.stringify(await cp.redis.redis.hgetall(k))
          : type === 'stream'
            ? JSON.stringify(await cp.redis.redis.xrange(k, '-', '+'))
            : type === 'string'
              ? ((await cp.redis.redis.get(k)) ?? '')
              : '';
      expect(dump).not.toContain(API_KEY);
    }
    expect(worker.output()).not.toContain(API_KEY);
  });

  it('refuses a prompt with an unknown engine naming engine_id', async () => {
    const res = await cp
      .as(cp.adminKey)
      .post('/api/v1/jobs', { prompt: 'x', engine_id: '00000000-0000-4000-8000-000000000000' })
      .expect(400);
    expect(res.body.errors[0].field).toBe('engine_id');
  });
});
