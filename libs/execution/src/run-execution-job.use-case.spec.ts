import type { ExecutionRunPayload, JobEvent } from '@agentfleet/contracts';
import type { CircuitBreakers } from './circuit-breakers.port';
import type { ContainerRuntime, RunSpec } from './container-runtime.port';
import { type EngineEnv, RunExecutionJobUseCase } from './run-execution-job.use-case';

const JOB = '00000000-0000-4000-8000-0000000000a1';
const ORG = '00000000-0000-4000-8000-000000000001';
const TARGET = '00000000-0000-4000-8000-0000000000b1';
const VALUE = 'sk-live-never-logged';

function payload(spec: Partial<ExecutionRunPayload['spec']> = {}, over: Partial<ExecutionRunPayload> = {}) {
  return {
    v: 1,
    job_id: JOB,
    organization_id: ORG,
    attempt: 2,
    pool: 'default',
    target_id: TARGET,
    engine_id: null,
    targets: [
      {
        id: TARGET,
        name: 'local',
        type: 'process',
        connection: {},
        breaker: {
          error_threshold_percentage: 50,
          volume_threshold: 3,
          reset_timeout_ms: 30_000,
          rolling_window_ms: 60_000,
        },
      },
    ],
    spec: {
      image: 'agentfleet/agent-runtime:dev',
      command: ['node', '-e', '0'],
      env: { MODE: 'test' },
      memory_limit_mb: 128,
      cpu: 0.5,
      pids_limit: 64,
      timeout_ms: 60_000,
      network: false,
      ...spec,
    },
    ...over,
  } satisfies ExecutionRunPayload;
}

/** A runtime that records the spec it was given and exits 0; breakers always closed; events in memory. */
function setup(
  secretEnv?: (jobId: string, attempt: number) => Promise<Record<string, string>>,
  engineEnv?: (engineId: string, jobId: string) => Promise<EngineEnv>,
) {
  const runs: RunSpec[] = [];
  const events: JobEvent[] = [];
  const asked: [string, number][] = [];
  const runtime: ContainerRuntime = {
    kind: 'process',
    async ping() {},
    async removeOrphans() {
      return 0;
    },
    async run(spec, io) {
      runs.push(spec);
      io.onStarted?.('c1');
      const at = new Date();
      return {
        containerId: 'c1',
        exitCode: 0,
        oomKilled: false,
        timedOut: false,
        cancelled: false,
        evidence: {},
        peakMemoryMb: null,
        startLatencyMs: 1,
        startedAt: at,
        finishedAt: at,
      };
    },
  };
  const breakers: CircuitBreakers = {
    fire: (_k, _o, fn) => fn(),
    state: () => 'closed',
    states: () => ({}),
    reset: () => undefined,
  };
  const uc = new RunExecutionJobUseCase({
    workerId: '00000000-0000-4000-8000-0000000000c1',
    hostname: 'h',
    runtimeFor: () => runtime,
    breakers,
    sinkFor: () => ({
      async append(e) {
        events.push(...e);
      },
    }),
    ...(secretEnv
      ? {
          secretEnv: (jobId: string, attempt: number) => {
            asked.push([jobId, attempt]);
            return secretEnv(jobId, attempt);
          },
        }
      : {}),
    ...(engineEnv ? { engineEnv } : {}),
    logger: { info: () => undefined, warn: () => undefined },
  });
  return { uc, runs, events, asked };
}

describe('RunExecutionJobUseCase: env values from secrets', () => {
  it('puts the resolved secret values into the runtime secretEnv (not env), asking for this job and attempt', async () => {
    const s = setup(async () => ({ API_KEY: VALUE }));
    const summary = await s.uc.execute(
      payload({ secret_env: { API_KEY: 'OPENAI_KEY' } }),
      new AbortController().signal,
    );
    expect(summary.status).toBe('completed');
    expect(s.asked).toEqual([[JOB, 2]]);
    expect(s.runs[0]!.env).toEqual({ MODE: 'test' });
    expect(s.runs[0]!.secretEnv).toEqual({ API_KEY: VALUE });
    expect(JSON.stringify(s.events)).not.toContain(VALUE);
  });

  it('does not ask the control plane when the job references no secret', async () => {
    const s = setup(async () => ({}));
    await s.uc.execute(payload(), new AbortController().signal);
    await s.uc.execute(payload({ secret_env: {} }), new AbortController().signal);
    expect(s.asked).toEqual([]);
    expect(s.runs.map((r) => r.env)).toEqual([{ MODE: 'test' }, { MODE: 'test' }]);
    expect(s.runs.map((r) => r.secretEnv)).toEqual([{}, {}]);
  });

  it('takes only the referenced variables from the answer: it cannot add or replace others', async () => {
    const s = setup(async () => ({ API_KEY: VALUE, MODE: 'hijacked', PATH: '/evil' }));
    await s.uc.execute(payload({ secret_env: { API_KEY: 'OPENAI_KEY' } }), new AbortController().signal);
    expect(s.runs[0]!.env).toEqual({ MODE: 'test' });
    expect(s.runs[0]!.secretEnv).toEqual({ API_KEY: VALUE });
  });

  it('fails the job without starting it when a secret cannot be resolved, with the reason naming the variable', async () => {
    const s = setup(async () => {
      throw new Error('env.API_KEY refers to secret OPENAI_KEY, which no longer exists');
    });
    const summary = await s.uc.execute(
      payload({ secret_env: { API_KEY: 'OPENAI_KEY' } }),
      new AbortController().signal,
    );
    expect(summary.status).toBe('failed');
    expect(s.runs).toHaveLength(0);
    expect(s.events.at(-1)).toMatchObject({
      type: 'finished',
      status: 'failed',
      error: 'secret env unavailable: env.API_KEY refers to secret OPENAI_KEY, which no longer exists',
    });
  });

  it('fails the job naming the variable when the answer lacks one of its references', async () => {
    const s = setup(async () => ({ API_KEY: VALUE }));
    await s.uc.execute(
      payload({ secret_env: { API_KEY: 'OPENAI_KEY', DB: 'DB_URL' } }),
      new AbortController().signal,
    );
    expect(s.runs).toHaveLength(0);
    expect(s.events.at(-1)).toMatchObject({ status: 'failed', error: expect.stringContaining('env.DB') });
  });

  it('fails a job with references on a worker that cannot resolve them, rather than run it without', async () => {
    const s = setup();
    await s.uc.execute(payload({ secret_env: { API_KEY: 'OPENAI_KEY' } }), new AbortController().signal);
    expect(s.runs).toHaveLength(0);
    expect(s.events.at(-1)).toMatchObject({ status: 'failed' });
  });
});

describe('RunExecutionJobUseCase: engine env', () => {
  const ENGINE = '00000000-0000-4000-8000-0000000000e1';
  const engine: EngineEnv = {
    env: { AGENTFLEET_ENGINE_PROVIDER: 'openai', AGENTFLEET_ENGINE_MODEL: 'gpt-x' },
    secretEnv: { AGENTFLEET_ENGINE_API_KEY: VALUE },
  };

  it("puts the engine's settings into env and its API key into secretEnv", async () => {
    const s = setup(undefined, async () => engine);
    const summary = await s.uc.execute(payload({}, { engine_id: ENGINE }), new AbortController().signal);
    expect(summary.status).toBe('completed');
    expect(s.runs[0]!.env).toEqual({ MODE: 'test', ...engine.env });
    expect(s.runs[0]!.secretEnv).toEqual({ AGENTFLEET_ENGINE_API_KEY: VALUE });
  });

  it('keeps every variable in one map only: the later layer decides whether it is secret', async () => {
    const s = setup(
      async () => ({ AGENTFLEET_ENGINE_MODEL: 'from-a-secret' }),
      async () => engine,
    );
    await s.uc.execute(
      payload(
        // a plain job variable named like the engine key, a secret reference named like an engine setting
        {
          env: { MODE: 'test', AGENTFLEET_ENGINE_API_KEY: 'plain' },
          secret_env: { AGENTFLEET_ENGINE_MODEL: 'M' },
        },
        { engine_id: ENGINE },
      ),
      new AbortController().signal,
    );
    const { env, secretEnv } = s.runs[0]!;
    expect(env).toEqual({ MODE: 'test', ...engine.env });
    expect(secretEnv).toEqual({ AGENTFLEET_ENGINE_API_KEY: VALUE });
    expect(Object.keys(env).filter((name) => name in secretEnv)).toEqual([]);
  });
});
