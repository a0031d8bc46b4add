import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type RuntimeEvent, runtimeEventSchema } from '@agentfleet/contracts';
import {
  type FakeLlmProvider,
  type FakeLlmWireFormat,
  startFakeLlmProvider,
  waitFor,
} from '@agentfleet/testing';

const MAIN = join(__dirname, '../../../dist/apps/agent-runtime/src/main.js');
const API_KEY = 'sk-test-Xq7vR2mN9pL4kJ8hG3fD6sA1';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  events: RuntimeEvent[];
}

/** The built program, as the runtime starts it: only the variables given (no inherited environment). */
function runAgentRuntime(
  env: Record<string, string>,
  args: string[] = [],
  whileRunning?: (child: ChildProcess) => void,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    whileRunning?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const lines = stdout.split('\n').filter(Boolean);
      // every line must be a valid v1 event: the contract is the point of this program
      const events = lines.map((l) => runtimeEventSchema.parse(JSON.parse(l)));
      resolve({ code, stdout, stderr, events });
    });
  });
}

function engineEnv(provider: FakeLlmWireFormat, baseUrl: string, extra: Record<string, string> = {}) {
  return {
    AGENTFLEET_PROMPT: 'Summarise the incident in one line.',
    AGENTFLEET_ENGINE_PROVIDER: provider,
    AGENTFLEET_ENGINE_BASE_URL: baseUrl,
    AGENTFLEET_ENGINE_MODEL: provider === 'openai' ? 'gpt-4o-mini' : 'claude-sonnet-4-5',
    AGENTFLEET_ENGINE_API_KEY: API_KEY,
    ...extra,
  };
}

const errorLogs = (r: Run) => r.events.filter((e) => e.type === 'log' && e.level === 'error');

async function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('agent-runtime (the real program against local provider servers)', () => {
  let fake: FakeLlmProvider | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('openai: sends the Chat Completions request and prints progress, usage and result in order', async () => {
    fake = await startFakeLlmProvider({
      format: 'openai',
      apiKey: API_KEY,
      replies: [{ kind: 'text', text: 'Disk full on db-1.', promptTokens: 42, completionTokens: 7 }],
    });
    const run = await runAgentRuntime(
      engineEnv('openai', fake.baseUrl, {
        AGENTFLEET_ENGINE_SYSTEM_PROMPT: 'You are terse.',
        AGENTFLEET_ENGINE_MAX_TOKENS: '64',
      }),
    );

    expect(run.code).toBe(0);
    expect(run.events.map((e) => (e.type === 'progress' ? `progress:${e.progress}` : e.type))).toEqual([
      'progress:0',
      'progress:0.1',
      'progress:1',
      'usage',
      'result',
    ]);
    expect(run.events[3]).toEqual({
      v: 1,
      type: 'usage',
      model: 'gpt-4o-mini',
      prompt_tokens: 42,
      completion_tokens: 7,
    });
    expect(run.events[4]).toEqual({ v: 1, type: 'result', output: 'Disk full on db-1.' });

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Summarise the incident in one line.' },
      ],
      max_tokens: 64,
    });
    expect(run.stdout + run.stderr).not.toContain(API_KEY);
  });

  it('anthropic: sends the Messages request with x-api-key and anthropic-version', async () => {
    fake = await startFakeLlmProvider({
      format: 'anthropic',
      apiKey: API_KEY,
      replies: [{ kind: 'text', text: 'Certificate expired.', promptTokens: 30, completionTokens: 4 }],
    });
    const run = await runAgentRuntime(
      engineEnv('anthropic', fake.baseUrl, { AGENTFLEET_ENGINE_SYSTEM_PROMPT: 'Be brief.' }),
    );

    expect(run.code).toBe(0);
    expect(run.events.map((e) => e.type)).toEqual(['progress', 'progress', 'progress', 'usage', 'result']);
    expect(run.events.find((e) => e.type === 'usage')).toEqual({
      v: 1,
      type: 'usage',
      model: 'claude-sonnet-4-5',
      prompt_tokens: 30,
      completion_tokens: 4,
    });
    expect(run.events.at(-1)).toEqual({ v: 1, type: 'result', output: 'Certificate expired.' });

    const req = fake.requests[0]!;
    expect(req.path).toBe('/v1/messages');
    expect(req.headers['x-api-key']).toBe(API_KEY);
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.headers['authorization']).toBeUndefined();
    expect(req.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Summarise the incident in one line.' }],
    });
    expect(run.stdout + run.stderr).not.toContain(API_KEY);
  });

  it.each<FakeLlmWireFormat>(['openai', 'anthropic'])(
    '%s: retries once after a 429 and succeeds',
    async (format) => {
      fake = await startFakeLlmProvider({
        format,
        apiKey: API_KEY,
        replies: [
          { kind: 'error', status: 429, retryAfterSeconds: 0 },
          { kind: 'text', text: 'second time lucky' },
        ],
      });
      const run = await runAgentRuntime(engineEnv(format, fake.baseUrl));

      expect(run.code).toBe(0);
      expect(fake.requests).toHaveLength(2);
      const warn = run.events.find((e) => e.type === 'log' && e.level === 'warn');
      expect(warn).toMatchObject({ message: expect.stringContaining('HTTP 429') });
      expect(run.events.at(-1)).toEqual({ v: 1, type: 'result', output: 'second time lucky' });
    },
  );

  it('gives up after the one retry when the provider keeps failing with 5xx', async () => {
    fake = await startFakeLlmProvider({
      format: 'anthropic',
      apiKey: API_KEY,
      replies: [{ kind: 'error', status: 529, retryAfterSeconds: 0 }],
    });
    const run = await runAgentRuntime(engineEnv('anthropic', fake.baseUrl));

    expect(run.code).toBe(1);
    expect(fake.requests).toHaveLength(2);
    expect(errorLogs(run).at(-1)).toMatchObject({
      message: expect.stringContaining('HTTP 529: overloaded_error'),
    });
  });

  it.each<FakeLlmWireFormat>(['openai', 'anthropic'])(
    '%s: a wrong key (401) fails at once with an error log, without printing either key',
    async (format) => {
      fake = await startFakeLlmProvider({ format, apiKey: 'sk-the-right-one-0000000000' });
      const run = await runAgentRuntime(engineEnv(format, fake.baseUrl));

      expect(run.code).toBe(1);
      expect(fake.requests).toHaveLength(1); // a 4xx is not retried
      const last = run.events.at(-1);
      expect(last).toMatchObject({
        type: 'log',
        level: 'error',
        message: expect.stringContaining('HTTP 401'),
      });
      expect(run.events.some((e) => e.type === 'result')).toBe(false);
      expect(run.stdout + run.stderr).not.toContain(API_KEY);
    },
  );

  it('fails with an error log when the provider is unreachable', async () => {
    const port = await unusedPort();
    const run = await runAgentRuntime(engineEnv('openai', `http://127.0.0.1:${port}/v1`));

    expect(run.code).not.toBe(0);
    expect(errorLogs(run).at(-1)).toMatchObject({ message: expect.stringContaining('openai unreachable') });
    expect(run.stdout + run.stderr).not.toContain(API_KEY);
  });

  it('gives up on a provider that does not answer within AGENTFLEET_ENGINE_TIMEOUT_MS, without retrying', async () => {
    fake = await startFakeLlmProvider({ format: 'openai', apiKey: API_KEY, replies: [{ kind: 'hang' }] });
    const run = await runAgentRuntime(
      engineEnv('openai', fake.baseUrl, { AGENTFLEET_ENGINE_TIMEOUT_MS: '300' }),
    );

    expect(run.code).toBe(1);
    expect(fake.requests).toHaveLength(1);
    expect(errorLogs(run).at(-1)).toMatchObject({ message: 'openai request timed out' });
  });

  it('on SIGTERM (timeout or cancel of the job) stops waiting, prints why and exits 143', async () => {
    const provider = await startFakeLlmProvider({
      format: 'anthropic',
      apiKey: API_KEY,
      replies: [{ kind: 'hang' }],
    });
    fake = provider;
    const run = await runAgentRuntime(engineEnv('anthropic', provider.baseUrl), [], (child) => {
      void waitFor(() => provider.requests.length === 1, { what: 'the request' }).then(() =>
        child.kill('SIGTERM'),
      );
    });

    expect(run.code).toBe(143);
    expect(errorLogs(run).at(-1)).toMatchObject({ message: expect.stringContaining('SIGTERM') });
  });

  it('--noop prints nothing and exits 0', async () => {
    const run = await runAgentRuntime({}, ['--noop']);

    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('');
  });

  it('exits 2 naming a missing variable, without echoing the key', async () => {
    const env: Record<string, string> = engineEnv('openai', 'http://127.0.0.1:9/v1');
    delete env['AGENTFLEET_ENGINE_MODEL'];
    const run = await runAgentRuntime(env);

    expect(run.code).toBe(2);
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      type: 'log',
      level: 'error',
      message: expect.stringContaining('AGENTFLEET_ENGINE_MODEL'),
    });
    expect(run.stdout + run.stderr).not.toContain(API_KEY);
  });
});
