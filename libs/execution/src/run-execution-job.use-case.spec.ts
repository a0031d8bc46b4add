import type { ExecutionRunPayload, JobEvent } from '@agentfleet/contracts';
import type { CircuitBreakers } from './circuit-breakers.port';
import type { ContainerRuntime, RunIO, RunOutcome, RunSpec } from './container-runtime.port';
import { type EngineEnv, HAND_BACK, RunExecutionJobUseCase } from './run-execution-job.use-case';
import type { LeaseRenewal, TargetSlots } from './target-slots.port';

const JOB = '00000000-0000-4000-8000-0000000000a1';
const ORG = '00000000-0000-4000-8000-000000000001';
const TARGET = '00000000-0000-4000-8000-0000000000b1';
const VALUE = 'sk-live-never-logged';
/** The place in line of a job whose test is not about the line (the worker always passes one). */
const TURN = { order: 10 };

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

/** A container that ran and exited 0 (or as `over` says). */
const ok = (over: Partial<RunOutcome> = {}): RunOutcome => {
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
    ...over,
  };
};

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
      return ok();
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
    slots: new MemorySlots(),
    slotLeaseMs: 60_000,
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
      TURN,
    );
    expect(summary.status).toBe('completed');
    expect(s.asked).toEqual([[JOB, 2]]);
    expect(s.runs[0]!.env).toEqual({ MODE: 'test' });
    expect(s.runs[0]!.secretEnv).toEqual({ API_KEY: VALUE });
    expect(JSON.stringify(s.events)).not.toContain(VALUE);
  });

  it('does not ask the control plane when the job references no secret', async () => {
    const s = setup(async () => ({}));
    await s.uc.execute(payload(), new AbortController().signal, TURN);
    await s.uc.execute(payload({ secret_env: {} }), new AbortController().signal, TURN);
    expect(s.asked).toEqual([]);
    expect(s.runs.map((r) => r.env)).toEqual([{ MODE: 'test' }, { MODE: 'test' }]);
    expect(s.runs.map((r) => r.secretEnv)).toEqual([{}, {}]);
  });

  it('takes only the referenced variables from the answer: it cannot add or replace others', async () => {
    const s = setup(async () => ({ API_KEY: VALUE, MODE: 'hijacked', PATH: '/evil' }));
    await s.uc.execute(
      payload({ secret_env: { API_KEY: 'OPENAI_KEY' } }),
      new AbortController().signal,
      TURN,
    );
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
      TURN,
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
      TURN,
    );
    expect(s.runs).toHaveLength(0);
    expect(s.events.at(-1)).toMatchObject({ status: 'failed', error: expect.stringContaining('env.DB') });
  });

  it('fails a job with references on a worker that cannot resolve them, rather than run it without', async () => {
    const s = setup();
    await s.uc.execute(
      payload({ secret_env: { API_KEY: 'OPENAI_KEY' } }),
      new AbortController().signal,
      TURN,
    );
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
    const summary = await s.uc.execute(
      payload({}, { engine_id: ENGINE }),
      new AbortController().signal,
      TURN,
    );
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
      TURN,
    );
    const { env, secretEnv } = s.runs[0]!;
    expect(env).toEqual({ MODE: 'test', ...engine.env });
    expect(secretEnv).toEqual({ AGENTFLEET_ENGINE_API_KEY: VALUE });
    expect(Object.keys(env).filter((name) => name in secretEnv)).toEqual([]);
  });
});

/**
 * Slots in memory with the adapter's rules (at most `max`, a holder counted once, a freed slot to the
 * first in line); every call recorded.
 */
class MemorySlots implements TargetSlots {
  readonly held = new Map<string, Set<string>>();
  readonly calls: string[] = [];
  /** Makes the next acquires throw (Redis away). */
  failAcquires = 0;

  holders(targetId: string): string[] {
    return [...(this.held.get(targetId) ?? [])];
  }

  /** Places in line per target: holder → order (no lapsing here). */
  readonly waiting = new Map<string, Map<string, number>>();

  async acquireInTurn(
    targetId: string,
    holder: string,
    max: number,
    _ttlMs: number,
    turn: { order: number },
  ): Promise<{ taken: true } | { taken: false; ahead: number }> {
    this.calls.push(`acquireInTurn ${targetId} ${holder} ${max} ${turn.order}`);
    if (this.failAcquires > 0) {
      this.failAcquires--;
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    }
    const set = this.held.get(targetId) ?? new Set<string>();
    this.held.set(targetId, set);
    const line = this.waiting.get(targetId) ?? new Map<string, number>();
    this.waiting.set(targetId, line);
    const ahead = [...line.values()].filter((o) => o < turn.order).length;
    if (set.has(holder) || ahead < max - set.size) {
      set.add(holder);
      line.delete(holder);
      return { taken: true };
    }
    line.set(holder, turn.order);
    return { taken: false, ahead };
  }

  async leaveTurns(targetIds: readonly string[], holder: string): Promise<void> {
    this.calls.push(`leaveTurns ${targetIds.join(',')} ${holder}`);
    for (const id of targetIds) this.waiting.get(id)?.delete(holder);
  }

  async renew(targetId: string, holder: string, max: number): Promise<LeaseRenewal> {
    this.calls.push(`renew ${targetId} ${holder}`);
    const set = this.held.get(targetId) ?? new Set<string>();
    this.held.set(targetId, set);
    if (set.has(holder)) return 'renewed';
    if (set.size >= max) return 'full';
    set.add(holder);
    return 'retaken';
  }

  async release(targetId: string, holder: string): Promise<void> {
    this.calls.push(`release ${targetId} ${holder}`);
    this.held.get(targetId)?.delete(holder);
  }

  async count(targetId: string): Promise<number> {
    return this.held.get(targetId)?.size ?? 0;
  }
}

describe('RunExecutionJobUseCase: target capacity (max_concurrent across the fleet)', () => {
  const A = '00000000-0000-4000-8000-0000000000b1';
  const B = '00000000-0000-4000-8000-0000000000b2';
  const HOLDER = `${JOB}:a2`;
  const LEASE_MS = 30_000;
  const breaker = payload().targets[0]!.breaker;
  const target = (id: string, name: string, max?: number) => ({
    id,
    name,
    type: 'process' as const,
    connection: {},
    breaker,
    ...(max !== undefined ? { max_concurrent: max } : {}),
  });

  /**
   * Targets A and B (A first); `run` decides how a container ends and sees which target it runs on;
   * breakers are closed unless listed in `open`; every `fire` is counted.
   */
  function fleet(
    o: {
      run?: (spec: RunSpec, io: RunIO, targetId: string) => Promise<RunOutcome>;
      open?: string[];
      now?: () => Date;
      cancelRequested?: (jobId: string) => Promise<boolean>;
    } = {},
  ) {
    const slots = new MemorySlots();
    const events: JobEvent[] = [];
    const ranOn: string[] = [];
    const fired: string[] = [];
    const warnings: string[] = [];
    const run = o.run ?? (async (_s, io) => (io.onStarted?.('c1'), ok()));
    const breakers: CircuitBreakers = {
      fire: (k, _o, fn) => {
        fired.push(k);
        return fn();
      },
      state: (k) => (o.open?.includes(k) ? 'open' : 'closed'),
      states: () => ({}),
      reset: () => undefined,
    };
    const uc = new RunExecutionJobUseCase({
      workerId: '00000000-0000-4000-8000-0000000000c1',
      hostname: 'h',
      runtimeFor: (t) => ({
        kind: 'process',
        async ping() {},
        async removeOrphans() {
          return 0;
        },
        run: (spec, io) => {
          ranOn.push(t.id);
          return run(spec, io, t.id);
        },
      }),
      breakers,
      slots,
      slotLeaseMs: LEASE_MS,
      sinkFor: () => ({
        async append(e) {
          events.push(...e);
        },
      }),
      logger: { info: () => undefined, warn: (m) => void warnings.push(m) },
      random: () => 0.5,
      ...(o.now ? { now: o.now } : {}),
      ...(o.cancelRequested ? { cancelRequested: o.cancelRequested } : {}),
    });
    return { uc, slots, events, ranOn, fired, warnings };
  }
  const twoTargets = (maxA?: number, maxB?: number) =>
    payload({}, { targets: [target(A, 'a', maxA), target(B, 'b', maxB)] });

  describe('in turn (a place in line by priority, then queue time)', () => {
    const job = (n: number, targets = [target(A, 'a', 1)]) =>
      payload({}, { job_id: `00000000-0000-4000-8000-00000000000${n}`, attempt: 1, targets });
    const holder = (n: number) => `00000000-0000-4000-8000-00000000000${n}:a1`;

    it('gives a freed slot to the job queued first, not to the first one to ask again', async () => {
      const f = fleet();
      f.slots.held.set(A, new Set(['x:a1']));
      const signal = new AbortController().signal;
      const early = await f.uc.execute(job(1), signal, { order: 10 });
      const late = await f.uc.execute(job(2), signal, { order: 20 });
      // the first in line asks again after 100 ms, the next after 200 ms (random 0.5: no jitter)
      expect([early.deferred?.delayMs, late.deferred?.delayMs]).toEqual([100, 200]);
      expect(late.deferred?.reason).toBe('a: full (max_concurrent 1; 1 waiting before this job)');
      f.slots.held.get(A)!.clear(); // x ended
      expect((await f.uc.execute(job(2), signal, { order: 20, deferrals: 1 })).status).toBe('deferred');
      expect((await f.uc.execute(job(1), signal, { order: 10, deferrals: 1 })).status).toBe('completed');
      expect((await f.uc.execute(job(2), signal, { order: 20, deferrals: 2 })).status).toBe('completed');
      expect(f.ranOn).toEqual([A, A]);
    });

    it('a job that waited gives up its places on the other targets once it starts', async () => {
      const f = fleet();
      const targets = [target(A, 'a', 1), target(B, 'b', 1)];
      f.slots.held.set(A, new Set(['x:a1']));
      f.slots.held.set(B, new Set(['y:a1']));
      const signal = new AbortController().signal;
      expect((await f.uc.execute(job(1, targets), signal, { order: 10 })).status).toBe('deferred');
      expect([...f.slots.waiting.get(A)!.keys(), ...f.slots.waiting.get(B)!.keys()]).toEqual([
        holder(1),
        holder(1),
      ]);
      f.slots.held.get(B)!.clear();
      expect(await f.uc.execute(job(1, targets), signal, { order: 10, deferrals: 1 })).toMatchObject({
        status: 'completed',
        targetId: B,
      });
      expect(f.slots.calls).toContain(`leaveTurns ${A} ${holder(1)}`);
      expect(f.slots.waiting.get(A)!.size).toBe(0);
    });

    it('asks no place of a job that never waited (no extra round trip on the common path)', async () => {
      const f = fleet();
      await f.uc.execute(job(1), new AbortController().signal, { order: 10 });
      expect(f.slots.calls).toEqual([`acquireInTurn ${A} ${holder(1)} 1 10`, `release ${A} ${holder(1)}`]);
    });
  });

  it('runs on the next target of the pool when the first is full', async () => {
    const f = fleet();
    f.slots.held.set(A, new Set(['other-job:a1']));
    const summary = await f.uc.execute(twoTargets(1, 2), new AbortController().signal, TURN);
    expect(summary).toMatchObject({ status: 'completed', targetId: B });
    expect(f.ranOn).toEqual([B]);
    expect(f.events.find((e) => e.type === 'started')).toMatchObject({ target_id: B });
    // the full target was asked, not taken
    expect(f.slots.holders(A)).toEqual(['other-job:a1']);
  });

  it('ends a job whose cancel flag was raised before it started as cancelled: nothing runs, its slot is given back', async () => {
    const f = fleet({ cancelRequested: async () => true });
    const summary = await f.uc.execute(twoTargets(1, 1), new AbortController().signal, TURN);
    expect(summary.status).toBe('cancelled');
    expect(f.ranOn).toEqual([]);
    expect(f.events.map((e) => e.type)).toEqual(['finished']);
    expect(f.slots.holders(A)).toEqual([]);
  });

  it('asks for the cancel flag and the first slot at once (one round trip), not one after the other', async () => {
    let answer!: (v: boolean) => void;
    const f = fleet({ cancelRequested: () => new Promise<boolean>((r) => (answer = r)) });
    const running = f.uc.execute(twoTargets(1, 1), new AbortController().signal, TURN);
    // the flag is not answered yet, and the slot was asked for already
    await new Promise((r) => setImmediate(r));
    expect(f.slots.calls).toEqual([`acquireInTurn ${A} ${HOLDER} 1 10`]);
    answer(false);
    expect(await running).toMatchObject({ status: 'completed', targetId: A });
  });

  it('runs the job when the cancel flag cannot be read (a cancel sent while it runs still arrives as a signal)', async () => {
    const f = fleet({ cancelRequested: async () => Promise.reject(new Error('Redis away')) });
    const summary = await f.uc.execute(twoTargets(1, 1), new AbortController().signal, TURN);
    expect(summary.status).toBe('completed');
  });

  it('defers the attempt when every target is full: nothing runs, no event is sent, no breaker is fired', async () => {
    const f = fleet();
    f.slots.held.set(A, new Set(['x:a1']));
    f.slots.held.set(B, new Set(['y:a1', 'z:a1']));
    const summary = await f.uc.execute(twoTargets(1, 2), new AbortController().signal, TURN);
    expect(summary.status).toBe('deferred');
    expect(summary.deferred).toEqual({
      delayMs: expect.any(Number),
      reason:
        'a: full (max_concurrent 1; 0 waiting before this job); b: full (max_concurrent 2; 0 waiting before this job)',
    });
    expect(f.ranOn).toEqual([]);
    expect(f.events).toEqual([]);
    expect(f.fired).toEqual([]);
    expect(f.slots.holders(A)).toEqual(['x:a1']);
    expect(f.slots.holders(B)).toEqual(['y:a1', 'z:a1']);
  });

  it('defers rather than fails when one target is full and the other has an open breaker', async () => {
    const f = fleet({ open: [B] });
    f.slots.held.set(A, new Set(['x:a1']));
    const summary = await f.uc.execute(twoTargets(1, 4), new AbortController().signal, TURN);
    expect(summary.status).toBe('deferred');
    expect(summary.deferred?.reason).toBe(
      'a: full (max_concurrent 1; 0 waiting before this job); b: breaker open',
    );
    expect(f.events).toEqual([]);
  });

  it('still ends as failed_circuit_open when every breaker is open and no target was full', async () => {
    const f = fleet({ open: [A, B] });
    const summary = await f.uc.execute(twoTargets(1, 1), new AbortController().signal, TURN);
    expect(summary.status).toBe('failed_circuit_open');
    expect(f.events.at(-1)).toMatchObject({ type: 'finished', status: 'failed_circuit_open' });
    // a target behind an open breaker is not asked for a slot either
    expect(f.slots.calls).toEqual([]);
  });

  it('waits by its place in line, however often it was deferred, up to about two seconds', async () => {
    const f = fleet();
    f.slots.held.set(A, new Set(['x:a1']));
    const delays: number[] = [];
    for (const [waiting, deferrals] of [
      [0, 0],
      [0, 100],
      [1, 0],
      [2, 5],
      [5, 0],
      [20, 1],
    ] as const) {
      // `waiting` jobs queued before this one wait in line already
      f.slots.waiting.set(A, new Map(Array.from({ length: waiting }, (_, i) => [`w${i}:a1`, 1])));
      const s = await f.uc.execute(
        payload({}, { targets: [target(A, 'a', 1)] }),
        new AbortController().signal,
        {
          ...TURN,
          deferrals,
        },
      );
      expect(s.deferred!.reason).toBe(`a: full (max_concurrent 1; ${waiting} waiting before this job)`);
      delays.push(s.deferred!.delayMs);
    }
    expect(delays).toEqual([100, 100, 200, 400, 2000, 2000]);
  });

  it('waits longer the more often the attempt was deferred, up to about two seconds, when Redis failed its slot requests (no place to go by)', async () => {
    jest.useFakeTimers();
    try {
      const f = fleet();
      f.slots.failAcquires = Infinity;
      const delays: number[] = [];
      for (const deferrals of [0, 1, 2, 3, 10, 100]) {
        const running = f.uc.execute(
          payload({}, { targets: [target(A, 'a', 1)] }),
          new AbortController().signal,
          {
            ...TURN,
            deferrals,
          },
        );
        await jest.advanceTimersByTimeAsync(250); // the retries of the slot request
        const s = await running;
        expect(s.deferred!.reason).toContain('a: slots unavailable');
        delays.push(s.deferred!.delayMs);
      }
      expect(delays).toEqual([250, 500, 1000, 2000, 2000, 2000]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('spreads deferred attempts with jitter, so jobs held back together do not return together', async () => {
    const at = (r: number) => {
      const slots = new MemorySlots();
      slots.held.set(A, new Set(['x:a1']));
      // five queued before it: far enough back to ask again after about two seconds
      slots.waiting.set(A, new Map(Array.from({ length: 5 }, (_, i) => [`w${i}:a1`, i])));
      return new RunExecutionJobUseCase({
        workerId: 'w',
        hostname: 'h',
        runtimeFor: () => {
          throw new Error('never runs');
        },
        breakers: { fire: (_k, _o, fn) => fn(), state: () => 'closed', states: () => ({}), reset: () => {} },
        slots,
        slotLeaseMs: LEASE_MS,
        sinkFor: () => ({ append: async () => undefined }),
        logger: { info: () => undefined, warn: () => undefined },
        random: () => r,
      }).execute(payload({}, { targets: [target(A, 'a', 1)] }), new AbortController().signal, TURN);
    };
    expect((await at(0)).deferred!.delayMs).toBe(1500);
    expect((await at(0.999999)).deferred!.delayMs).toBe(2500);
  });

  it('holds the slot while the container runs, as <job id>:a<attempt>', async () => {
    let during: string[] = [];
    const f = fleet({
      run: async (_s, io, t) => {
        during = f.slots.holders(t);
        io.onStarted?.('c1');
        return ok();
      },
    });
    await f.uc.execute(twoTargets(3), new AbortController().signal, TURN);
    expect(during).toEqual([HOLDER]);
    expect(f.slots.calls[0]).toBe(`acquireInTurn ${A} ${HOLDER} 3 10`);
  });

  const endings: [
    string,
    (c: AbortController) => (spec: RunSpec, io: RunIO) => Promise<RunOutcome>,
    string,
  ][] = [
    ['success', () => async (_s, io) => (io.onStarted?.('c1'), ok()), 'completed'],
    ['a failed exit', () => async (_s, io) => (io.onStarted?.('c1'), ok({ exitCode: 1 })), 'failed'],
    ['a timeout', () => async () => ok({ exitCode: 137, timedOut: true }), 'timed_out'],
    [
      'a throw from the runtime (target unreachable)',
      () => async () => {
        throw new Error('connect ENOENT /var/run/docker.sock');
      },
      'failed',
    ],
    [
      'cancel',
      (c) => async (_s, io) => {
        io.onStarted?.('c1');
        c.abort('cancel');
        return ok({ exitCode: 143, cancelled: true });
      },
      'cancelled',
    ],
    [
      'hand-back (worker shutting down)',
      (c) => async (_s, io) => {
        io.onStarted?.('c1');
        c.abort(HAND_BACK);
        return ok({ exitCode: 143, cancelled: true });
      },
      'cancelled',
    ],
  ];
  it.each(endings)('releases the slot after %s', async (_name, behaviour, status) => {
    const c = new AbortController();
    const f = fleet({ run: (spec, io) => behaviour(c)(spec, io) });
    const summary = await f.uc.execute(payload({}, { targets: [target(A, 'a', 1)] }), c.signal, TURN);
    expect(summary.status).toBe(status);
    expect(f.slots.calls).toEqual([`acquireInTurn ${A} ${HOLDER} 1 10`, `release ${A} ${HOLDER}`]);
    expect(f.slots.holders(A)).toEqual([]);
  });

  it('dates the end before it gives the slot back, so a job taking the slot next starts after it ended', async () => {
    let tick = 0;
    const clock = () => new Date(Date.UTC(2026, 0, 1) + ++tick * 1000);
    const f = fleet({ now: clock });
    let releasedAt = '';
    const release = f.slots.release.bind(f.slots);
    f.slots.release = async (t, h) => {
      releasedAt = clock().toISOString();
      return release(t, h);
    };
    await f.uc.execute(payload({}, { targets: [target(A, 'a', 1)] }), new AbortController().signal, TURN);
    const end = f.events.find((e) => e.type === 'finished')!;
    expect(end.at < releasedAt).toBe(true);
  });

  it('gives back the slot of a target that failed and opened its breaker, then takes one on the next target', async () => {
    const open: string[] = [];
    const f = fleet({
      run: async (_s, io, t) => {
        if (t === A) {
          open.push(A); // this failure opens A's breaker
          throw new Error('daemon away');
        }
        io.onStarted?.('c1');
        return ok();
      },
      open,
    });
    const summary = await f.uc.execute(twoTargets(1, 1), new AbortController().signal, TURN);
    expect(summary).toMatchObject({ status: 'completed', targetId: B });
    expect(f.slots.calls).toEqual([
      `acquireInTurn ${A} ${HOLDER} 1 10`,
      `release ${A} ${HOLDER}`,
      `acquireInTurn ${B} ${HOLDER} 1 10`,
      `release ${B} ${HOLDER}`,
    ]);
  });

  /** One job on target A (max_concurrent 1) whose container runs until `exit()`. */
  function runUntilExit() {
    let end!: () => void;
    const f = fleet({
      run: (_s, io) =>
        new Promise((resolve) => {
          io.onStarted?.('c1');
          end = () => resolve(ok());
        }),
    });
    const done = f.uc.execute(
      payload({}, { targets: [target(A, 'a', 1)] }),
      new AbortController().signal,
      TURN,
    );
    return { f, done, exit: () => end() };
  }

  it('renews the lease every third of its length while the container runs, and stops once it ended', async () => {
    jest.useFakeTimers();
    try {
      const { f, done, exit } = runUntilExit();
      await jest.advanceTimersByTimeAsync(LEASE_MS / 3 - 1);
      expect(f.slots.calls.filter((c) => c.startsWith('renew'))).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(1);
      expect(f.slots.calls.filter((c) => c.startsWith('renew'))).toEqual([`renew ${A} ${HOLDER}`]);
      await jest.advanceTimersByTimeAsync((LEASE_MS / 3) * 2);
      expect(f.slots.calls.filter((c) => c.startsWith('renew'))).toHaveLength(3);
      exit();
      await jest.advanceTimersByTimeAsync(100);
      expect((await done).status).toBe('completed');
      await jest.advanceTimersByTimeAsync(LEASE_MS);
      expect(f.slots.calls.filter((c) => c.startsWith('renew'))).toHaveLength(3);
      expect(f.slots.calls.at(-1)).toBe(`release ${A} ${HOLDER}`);
    } finally {
      jest.useRealTimers();
    }
  });

  /**
   * runUntilExit with the lease changed by `lapse` while the container runs; `whileRunning` looks after
   * the next renewal, before the container ends.
   */
  async function afterLeaseLapse(
    lapse: (f: ReturnType<typeof fleet>) => void,
    whileRunning: (f: ReturnType<typeof fleet>) => void,
  ) {
    jest.useFakeTimers();
    try {
      const { f, done, exit } = runUntilExit();
      await jest.advanceTimersByTimeAsync(1);
      lapse(f);
      await jest.advanceTimersByTimeAsync(LEASE_MS / 3);
      whileRunning(f);
      exit();
      await jest.advanceTimersByTimeAsync(100);
      return { f, summary: await done };
    } finally {
      jest.useRealTimers();
    }
  }

  it('takes the slot again, with a warning, when its lease was lost while the container ran', async () => {
    const { f } = await afterLeaseLapse(
      // as if the lease had lapsed (renewals failed past the TTL)
      (f) => f.slots.held.get(A)!.clear(),
      (f) => {
        expect(f.slots.holders(A)).toEqual([HOLDER]);
        expect(f.warnings.join('\n')).toContain('lease');
      },
    );
    expect(f.slots.holders(A)).toEqual([]);
  });

  it('takes a lost lease back before the jobs waiting in line: its container runs already', async () => {
    await afterLeaseLapse(
      (f) => {
        f.slots.held.get(A)!.clear(); // the lease lapsed...
        f.slots.waiting.set(A, new Map([['early:a1', 1]])); // ...and a job queued before this one waits
      },
      (f) => {
        expect(f.slots.calls.filter((c) => c.includes(HOLDER)).at(-1)).toBe(`renew ${A} ${HOLDER}`);
        expect(f.slots.holders(A)).toEqual([HOLDER]);
        expect([...f.slots.waiting.get(A)!.keys()]).toEqual(['early:a1']);
      },
    );
  });

  it('runs on over the limit, with a warning and no place in line, when its lease was lost to another job', async () => {
    const { f, summary } = await afterLeaseLapse(
      // the lease lapsed and another job took the slot
      (f) => f.slots.held.set(A, new Set(['other:a1'])),
      (f) => {
        expect(f.warnings.join('\n')).toContain('runs over max_concurrent');
        expect(f.slots.holders(A)).toEqual(['other:a1']);
        // the renewal found the target full and added nothing: no lease, no place in line
        expect(f.slots.waiting.get(A)?.has(HOLDER) ?? false).toBe(false);
      },
    );
    expect(summary.status).toBe('completed');
    expect(f.slots.holders(A)).toEqual(['other:a1']);
  });

  it('does not limit a target whose payload carries no max_concurrent (queued by an older control plane)', async () => {
    const f = fleet();
    const summary = await f.uc.execute(twoTargets(undefined, 1), new AbortController().signal, TURN);
    expect(summary).toMatchObject({ status: 'completed', targetId: A });
    expect(f.slots.calls).toEqual([]);
  });

  it('retries a slot request Redis failed, and runs once Redis answers', async () => {
    const f = fleet();
    f.slots.failAcquires = 1;
    const summary = await f.uc.execute(
      payload({}, { targets: [target(A, 'a', 1)] }),
      new AbortController().signal,
      TURN,
    );
    expect(summary.status).toBe('completed');
    expect(f.slots.calls.filter((c) => c.startsWith('acquireInTurn'))).toEqual([
      `acquireInTurn ${A} ${HOLDER} 1 10`,
      `acquireInTurn ${A} ${HOLDER} 1 10`,
    ]);
  });

  it('defers, without counting it against the breaker, when Redis cannot be asked for a slot', async () => {
    const f = fleet();
    f.slots.failAcquires = 1000;
    const summary = await f.uc.execute(
      payload({}, { targets: [target(A, 'a', 1)] }),
      new AbortController().signal,
      TURN,
    );
    expect(summary.status).toBe('deferred');
    expect(summary.deferred?.reason).toContain('a: slots unavailable (connect ECONNREFUSED');
    expect(f.fired).toEqual([]);
    expect(f.ranOn).toEqual([]);
    expect(f.events).toEqual([]);
  });
});
