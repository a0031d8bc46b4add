import { type ExecutionRunPayload, type JobEvent, parseRuntimeLine } from '@agentfleet/contracts';
import { statusOf } from '@agentfleet/domain';
import { BreakerOpenError, type CircuitBreakers } from './circuit-breakers.port';
import type { ContainerRuntime, RunOutcome } from './container-runtime.port';
import type { JobEventSink } from './execution.ports';
import { type TargetSlots, slotHolder } from './target-slots.port';

type Target = ExecutionRunPayload['targets'][number];

export interface RunExecutionJobDeps {
  workerId: string;
  hostname: string;
  /** The runtime of a target (cached by the caller; one per target). */
  runtimeFor(target: Target): ContainerRuntime;
  breakers: CircuitBreakers;
  /** Fleet-wide slots of targets (`max_concurrent`), leased for the time a container runs. */
  slots: TargetSlots;
  /**
   * How long a slot lease lasts unless renewed (renewed every third of it): the worker's BullMQ lock
   * duration, so a dead worker's slots come back on the same clock as its jobs.
   */
  slotLeaseMs: number;
  sinkFor(jobId: string): JobEventSink;
  /**
   * Whether the job's cancel was asked before this attempt started (the flag the control plane raises
   * for a job it could not take out of its queue). Asked at once, and awaited together with the first
   * slot request: both travel in one round trip.
   */
  cancelRequested?(jobId: string): Promise<boolean>;
  /** An engine job's agent-runtime env: the engine's settings in `env`, its API key in `secretEnv`. */
  engineEnv?(engineId: string, jobId: string): Promise<EngineEnv>;
  /** Opened values of the job's secret references (variable → value), asked of the control plane at start. */
  secretEnv?(jobId: string, attempt: number): Promise<Record<string, string>>;
  logger: {
    info(msg: string, f?: Record<string, unknown>): void;
    warn(msg: string, f?: Record<string, unknown>): void;
  };
  now?: () => Date;
  /** Jitter of deferral delays (tests fix it). */
  random?: () => number;
}

/** An engine's variables, split by whether their values are secret. */
export interface EngineEnv {
  env: Record<string, string>;
  secretEnv: Record<string, string>;
}

/**
 * The attempt's environment as layers, later ones winning: a variable set by a later layer leaves the
 * other map, so no variable is ever both plain and secret.
 */
class AttemptEnv {
  readonly env: Record<string, string> = {};
  readonly secretEnv: Record<string, string> = {};

  set(vars: Readonly<Record<string, string>>, kind: 'plain' | 'secret'): void {
    const [into, other] = kind === 'secret' ? [this.secretEnv, this.env] : [this.env, this.secretEnv];
    for (const [name, value] of Object.entries(vars)) {
      into[name] = value;
      delete other[name];
    }
  }
}

/** Abort reason that hands an attempt back instead of cancelling it (worker shutting down). */
export const HAND_BACK = 'hand-back';

export type FinishedStatus = Extract<JobEvent, { type: 'finished' }>['status'];

export interface RunSummary {
  /**
   * How the attempt ended, or `deferred`: it never started because every target it may use was full
   * (or had an open breaker); no event was sent and it goes back to its queue as the same attempt.
   */
  status: FinishedStatus | 'deferred';
  /** The worker stopped it to hand it back: no `finished` event was sent; the control plane re-queues it. */
  handedBack?: boolean;
  /** With status `deferred`: when to try again and why (each target's answer). */
  deferred?: { delayMs: number; reason: string };
  targetId: string | null;
  outcome?: RunOutcome;
  /** When the container ran (metrics): create→running, running→exit, and the wall-clock start. */
  timing?: { startMs: number; runMs: number; startedAt: number };
}

/** How many stdout events are sent per Redis round trip, and how long one may wait for company. */
const FLUSH_EVERY = 100;
const FLUSH_AFTER_MS = 50;
const SINK_RETRY_FOR_MS = 10 * 60_000;
/**
 * A deferred attempt that learnt no place in line (Redis failed its slot requests) comes back after
 * 250 ms, doubling per deferral up to 2 s, ±25 % jitter.
 */
const DEFER_FIRST_MS = 250;
const DEFER_MAX_MS = 2000;
/**
 * Deferred in turn (see TargetSlots.acquireInTurn): the first in line asks again after 100 ms, each place
 * further back doubles it, up to 2 s. A place lapses 4 s after its last request (its attempt ended
 * elsewhere or was cancelled), so a stale one holds the line up for at most that long.
 */
const TURN_HEAD_MS = 100;
const TURN_TTL_MS = 4000;
/** Waits between the tries of a slot request Redis failed (then the attempt is deferred). */
const SLOT_RETRY_MS = [50, 200];

/**
 * One attempt on a worker: pick a target whose breaker is closed and which has a free slot (re-routing
 * past open and full ones), remove what an older attempt left on it (fencing), run the container through
 * the breaker while holding the slot, turn stdout into job events, and report how it ended. When every
 * target is full the attempt is deferred, not failed. Safe to run twice: events carry the attempt and
 * the control plane drops what no longer matches; a slot is held once per attempt.
 */
export class RunExecutionJobUseCase {
  constructor(private readonly d: RunExecutionJobDeps) {}

  /**
   * `order`: the attempt's place among attempts waiting for a full target (turnOrder of its priority and
   * queue time); a full target is asked again after a delay that follows that place. `deferrals`: how
   * often this attempt was deferred already; the delay grows with it only when no place could be learnt
   * (Redis failed the slot request).
   */
  async execute(
    payload: ExecutionRunPayload,
    signal: AbortSignal,
    { deferrals = 0, order }: { deferrals?: number; order: number },
  ): Promise<RunSummary> {
    const now = this.d.now ?? (() => new Date());
    const sink = new BufferedSink(this.d.sinkFor(payload.job_id));
    const base = { v: 1 as const, job_id: payload.job_id, attempt: payload.attempt };
    const finished = async (
      status: FinishedStatus,
      rest: Partial<Extract<JobEvent, { type: 'finished' }>> = {},
      target: Target | null = null,
      outcome?: RunOutcome,
      timing?: RunSummary['timing'],
    ): Promise<RunSummary> => {
      if (signal.aborted && signal.reason === HAND_BACK) {
        await sink.close();
        return { status, handedBack: true, targetId: target?.id ?? null, ...(timing ? { timing } : {}) };
      }
      sink.push({
        ...base,
        at: rest.at ?? now().toISOString(),
        type: 'finished',
        status,
        exit_code: rest.exit_code ?? null,
        result: rest.result,
        error: rest.error ?? null,
        oom_evidence: rest.oom_evidence ?? null,
        peak_memory_mb: rest.peak_memory_mb ?? null,
        memory_limit_mb: payload.spec.memory_limit_mb,
      });
      await sink.close();
      return {
        status,
        targetId: target?.id ?? null,
        ...(outcome ? { outcome } : {}),
        ...(timing ? { timing } : {}),
      };
    };

    // a failed check is no cancel: a cancel sent while the job runs still arrives as a signal
    const cancelCheck = (this.d.cancelRequested?.(payload.job_id) ?? Promise.resolve(false)).catch(
      () => false,
    );
    const env = new AttemptEnv();
    env.set(payload.spec.env, 'plain');
    const secretVars = Object.keys(payload.spec.secret_env ?? {});
    if (secretVars.length) {
      try {
        if (!this.d.secretEnv) throw new Error('this worker cannot resolve secret references');
        const values = await this.d.secretEnv(payload.job_id, payload.attempt);
        const missing = secretVars.find((v) => values[v] === undefined);
        if (missing) throw new Error(`no value came for env.${missing}`);
        // only the referenced variables: an answer cannot add or replace others
        env.set(Object.fromEntries(secretVars.map((v) => [v, values[v]!])), 'secret');
      } catch (e) {
        // the message names the variable and the secret, never a value
        return finished('failed', {
          error: `secret env unavailable: ${e instanceof Error ? e.message : String(e)}`.slice(0, 4000),
        });
      }
    }
    if (payload.engine_id) {
      try {
        const engine = await this.d.engineEnv!(payload.engine_id, payload.job_id);
        env.set(engine.env, 'plain');
        env.set(engine.secretEnv, 'secret');
      } catch (e) {
        return finished('failed', {
          error: `engine settings unavailable: ${e instanceof Error ? e.message : String(e)}`.slice(0, 4000),
        });
      }
    }
    const tried: string[] = [];
    /** A target was full (or its slots could not be read): capacity may free up, so defer rather than fail. */
    let full = false;
    const holder = slotHolder(payload.job_id, payload.attempt);
    /** Fewest attempts waiting before this one on a full target (undefined: no place taken). */
    let ahead: number | undefined;
    // an attempt that waited in line gives up its places once it starts somewhere or ends
    const leaveTurns = (except: string | null) => {
      if (deferrals === 0 && ahead === undefined) return;
      const ids = payload.targets.filter((t) => t.max_concurrent !== undefined && t.id !== except);
      if (ids.length)
        void this.d.slots
          .leaveTurns(
            ids.map((t) => t.id),
            holder,
          )
          .catch(() => undefined);
    };
    for (const target of payload.targets) {
      if (signal.aborted) return finished('cancelled', { error: 'cancelled before start' }, target);
      if (this.d.breakers.state(target.id) === 'open') {
        tried.push(`${target.name}: breaker open`);
        continue;
      }
      const [slot, cancelled] = await Promise.all([this.takeSlot(target, holder, order), cancelCheck]);
      if (cancelled || signal.aborted) {
        if (!('why' in slot)) await slot.release();
        leaveTurns(null);
        return finished('cancelled', { error: 'cancelled before start' }, target);
      }
      if ('why' in slot) {
        tried.push(`${target.name}: ${slot.why}`);
        full = true;
        if (slot.ahead !== undefined) ahead = Math.min(ahead ?? Infinity, slot.ahead);
        continue;
      }
      leaveTurns(target.id);
      let result: string | undefined;
      let resultValue: unknown;
      let requested = 0;
      let running: { at: number; wall: number } | undefined;
      let ran: { outcome: RunOutcome; endedAt: string } | { error: unknown };
      try {
        const runtime = this.d.runtimeFor(target);
        if (payload.attempt > 1) {
          const removed = await this.d.breakers.fire(target.id, target.breaker, () =>
            runtime.removeOrphans(payload.job_id),
          );
          if (removed)
            this.d.logger.warn('removed containers of an older attempt', {
              job_id: payload.job_id,
              attempt: payload.attempt,
              removed,
            });
        }
        requested = performance.now();
        const outcome = await this.d.breakers.fire(target.id, target.breaker, () =>
          runtime.run(
            {
              jobId: payload.job_id,
              attempt: payload.attempt,
              organizationId: payload.organization_id,
              image: payload.spec.image,
              command: payload.spec.command,
              env: env.env,
              secretEnv: env.secretEnv,
              memoryLimitMb: payload.spec.memory_limit_mb,
              cpu: payload.spec.cpu,
              pidsLimit: payload.spec.pids_limit,
              timeoutMs: payload.spec.timeout_ms,
              network: payload.spec.network,
            },
            {
              signal,
              onStarted: (containerId) => {
                running = { at: performance.now(), wall: Date.now() };
                sink.push({
                  ...base,
                  at: now().toISOString(),
                  type: 'started',
                  worker_id: this.d.workerId,
                  container_id: containerId,
                  target_id: target.id,
                  target_host: this.d.hostname,
                });
              },
              onStdout: (line) => {
                const e = parseRuntimeLine(line);
                const at = now().toISOString();
                switch (e.type) {
                  case 'progress':
                    sink.push({
                      ...base,
                      at,
                      type: 'progress',
                      progress: e.progress,
                      ...(e.message ? { message: e.message } : {}),
                    });
                    return;
                  case 'log':
                    sink.push({
                      ...base,
                      at,
                      type: 'log',
                      stream: 'stdout',
                      level: e.level,
                      message: e.message,
                    });
                    return;
                  case 'usage':
                    sink.push({
                      ...base,
                      at,
                      type: 'usage',
                      model: e.model,
                      prompt_tokens: e.prompt_tokens,
                      completion_tokens: e.completion_tokens,
                      ...(e.cost_usd !== undefined ? { cost_usd: e.cost_usd } : {}),
                    });
                    return;
                  case 'result':
                    result = 'set';
                    resultValue = e.output;
                    return;
                }
              },
              onStderr: (line) =>
                sink.push({
                  ...base,
                  at: now().toISOString(),
                  type: 'log',
                  stream: 'stderr',
                  level: 'warn',
                  message: line.slice(0, 16_000),
                }),
            },
          ),
        );
        // the end is dated before the slot is given back: the next job on the slot starts after it
        ran = { outcome, endedAt: now().toISOString() };
      } catch (e) {
        ran = { error: e };
      } finally {
        // the container has ended (or never started): the slot is free before the end is reported
        await slot.release();
      }
      if ('outcome' in ran) {
        const { outcome, endedAt } = ran;
        const status = statusOf(outcome);
        const timing = running && {
          startMs: running.at - requested,
          runMs: performance.now() - running.at,
          startedAt: running.wall,
        };
        return finished(
          status,
          {
            at: endedAt,
            exit_code: outcome.exitCode,
            ...(result ? { result: resultValue } : {}),
            error: errorOf(status, outcome, payload.spec.memory_limit_mb, payload.spec.timeout_ms),
            oom_evidence: outcome.oomKilled ? outcome.evidence : null,
            peak_memory_mb: outcome.peakMemoryMb,
          },
          target,
          outcome,
          timing,
        );
      }
      const e = ran.error;
      if (e instanceof BreakerOpenError) {
        tried.push(`${target.name}: breaker open`);
        continue;
      }
      // the target itself failed (daemon or API server away): counted by its breaker
      const message = e instanceof Error ? e.message : String(e);
      tried.push(`${target.name}: ${message}`);
      if (this.d.breakers.state(target.id) === 'open') continue; // re-route while another target is healthy
      return finished('failed', { error: `target ${target.name} failed: ${message}`.slice(0, 4000) }, target);
    }
    if (full) {
      await sink.close();
      return {
        status: 'deferred',
        targetId: null,
        deferred: { delayMs: this.deferDelay(deferrals, ahead), reason: tried.join('; ') },
      };
    }
    leaveTurns(null);
    return finished('failed_circuit_open', {
      error: `no healthy target in pool ${payload.pool}: ${tried.join('; ')}`.slice(0, 4000),
    });
  }

  /**
   * A slot on the target for this attempt, or why there is none. A target without `max_concurrent`
   * (payload of an older control plane) is not limited. Redis failing is not the target's fault: it is
   * retried briefly and then reported like a full target (deferral), never counted by the breaker.
   */
  private async takeSlot(
    target: Target,
    holder: string,
    order: number,
  ): Promise<Slot | { why: string; ahead?: number }> {
    const max = target.max_concurrent;
    if (max === undefined) return UNLIMITED;
    const lease = () =>
      new SlotLease(this.d.slots, target.id, holder, max, this.d.slotLeaseMs, this.d.logger);
    for (let i = 0; ; i++) {
      try {
        const r = await this.d.slots.acquireInTurn(target.id, holder, max, this.d.slotLeaseMs, {
          order,
          waitTtlMs: TURN_TTL_MS,
        });
        if (r.taken) return lease();
        return { why: `full (max_concurrent ${max}; ${r.ahead} waiting before this job)`, ahead: r.ahead };
      } catch (e) {
        const wait = SLOT_RETRY_MS[i];
        if (wait === undefined)
          return { why: `slots unavailable (${e instanceof Error ? e.message : String(e)})` };
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /**
   * By the fewest attempts waiting before this one; when no place is known (Redis failed the slot
   * requests) growing with the deferrals. ±25 % jitter either way.
   */
  private deferDelay(deferrals: number, ahead: number | undefined): number {
    const ceiling =
      ahead === undefined
        ? Math.min(DEFER_MAX_MS, DEFER_FIRST_MS * 2 ** Math.min(deferrals, 10))
        : Math.min(DEFER_MAX_MS, TURN_HEAD_MS * 2 ** Math.min(ahead, 10));
    return Math.round(ceiling * (0.75 + 0.5 * (this.d.random ?? Math.random)()));
  }
}

interface Slot {
  /** Never throws: a release Redis did not take lapses with the lease. */
  release(): Promise<void>;
}

const UNLIMITED: Slot = { release: async () => undefined };

/**
 * A slot held while a container runs: renewed every third of the lease, so two renewals may fail (Redis
 * restarting) before it lapses. A lease found lost is taken again if the target has a free slot, ahead of
 * every attempt waiting in line (the container runs already); otherwise the container goes on and the
 * target is over its limit until it ends. It takes no place in line either way.
 */
class SlotLease implements Slot {
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> | undefined;
  private released = false;

  constructor(
    private readonly slots: TargetSlots,
    private readonly targetId: string,
    private readonly holder: string,
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly logger: RunExecutionJobDeps['logger'],
  ) {
    this.timer = setInterval(
      () => {
        this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
      },
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    this.timer.unref();
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    // a renewal in flight could take the slot again after the release: let it land first
    await this.renewing;
    try {
      await this.slots.release(this.targetId, this.holder);
    } catch (e) {
      this.logger.warn('could not give the target slot back; its lease lapses on its own', {
        target_id: this.targetId,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  private async renew(): Promise<void> {
    const f = { target_id: this.targetId, holder: this.holder };
    try {
      const r = await this.slots.renew(this.targetId, this.holder, this.max, this.ttlMs);
      if (r === 'renewed') return;
      this.logger.warn(
        r === 'retaken'
          ? 'target slot lease had lapsed; taken again'
          : 'target slot lease lapsed and the target is full: it runs over max_concurrent until this job ends',
        f,
      );
    } catch (e) {
      this.logger.warn('could not renew the target slot lease (Redis)', {
        ...f,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }
}

function errorOf(
  status: ReturnType<typeof statusOf>,
  o: RunOutcome,
  memoryMb: number,
  timeoutMs: number,
): string | null {
  switch (status) {
    case 'completed':
      return null;
    case 'oom':
      return `killed: out of memory (limit ${memoryMb} MiB)`;
    case 'timed_out':
      return `killed: deadline of ${Math.round(timeoutMs / 1000)} s passed`;
    case 'cancelled':
      return 'cancelled';
    case 'failed':
      return `exited with code ${o.exitCode ?? 'unknown'}`;
  }
}

/** Orders and batches a job's events: flushes every 100 events or 50 ms, and everything on close. */
class BufferedSink {
  private buffer: JobEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(private readonly sink: JobEventSink) {}

  push(e: JobEvent) {
    this.buffer.push(e);
    if (this.buffer.length >= FLUSH_EVERY) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_AFTER_MS);
  }

  async close(): Promise<void> {
    this.flush();
    await this.chain;
    if (this.failure) throw this.failure;
  }

  private flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.buffer.length) return;
    const batch = this.buffer;
    this.buffer = [];
    // sequential: a stream must see events in the order they happened
    this.chain = this.chain
      .then(() => this.appendRetrying(batch))
      .catch((e: unknown) => {
        this.failure = e instanceof Error ? e : new Error(String(e));
      });
  }

  /**
   * Redis may be restarting: the batch is retried (in order, nothing after it goes first) for up to ten
   * minutes, so a job's end is not lost. A retry after a lost reply may store a batch twice; the
   * control plane's conditional updates make a second `finished` harmless.
   */
  private async appendRetrying(batch: JobEvent[]): Promise<void> {
    const giveUpAt = Date.now() + SINK_RETRY_FOR_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sink.append(batch);
        return;
      } catch (e) {
        if (Date.now() > giveUpAt) throw e;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(attempt, 6), 5000)));
      }
    }
  }
}
