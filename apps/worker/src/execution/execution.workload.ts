import {
  type ExecutionRunPayload,
  type WorkerRegisterResponse,
  handlerRegistry,
} from '@agentfleet/contracts';
import {
  type CircuitBreakers,
  type ContainerRuntime,
  type EngineEnv,
  HAND_BACK,
  RunExecutionJobUseCase,
  turnOrder,
  type RunSummary,
} from '@agentfleet/execution';
import type { Workload } from '@agentfleet/fleet';
import { BullmqExecutionConsumer, type QueueConnection } from '@agentfleet/infra-queue';
import { RedisJobEventSink, RedisKeys, RedisTargetSlots } from '@agentfleet/infra-redis';
import type { Logger } from '@agentfleet/infra-observability';
import type { Redis } from 'ioredis';
import type { WorkerMetrics } from '../worker-metrics';

type Target = ExecutionRunPayload['targets'][number];

/** What the queue entry tells about a taken job. */
interface TakenJob {
  /** When the entry became due (epoch ms), for the enqueue→start histogram. */
  enqueuedAt?: number;
  /** How often this attempt was deferred already. */
  deferrals?: number;
  /** Its place among attempts waiting for a full target (turnOrder). */
  order: number;
}

export interface ExecutionWorkloadDeps {
  session: () => (WorkerRegisterResponse & { scheduling: string }) | undefined;
  redis: Redis;
  /** A subscriber connection (pub/sub takes a connection over). */
  subscriber: Redis;
  queue: Omit<QueueConnection, 'prefix'>;
  breakers: CircuitBreakers;
  makeRuntime: (target: Target) => ContainerRuntime;
  engineEnv: (engineId: string, jobId: string) => Promise<EngineEnv>;
  secretEnv: (jobId: string, attempt: number) => Promise<Record<string, string>>;
  hostname: string;
  logger: Logger;
  /**
   * BullMQ lock of a taken job; renewed every half of it while the container runs. Also the length of a
   * target slot lease (renewed every third of it), so a dead worker's slots and jobs free up together.
   */
  lockDurationMs: number;
  metrics: WorkerMetrics;
}

/**
 * The worker's execution jobs: one BullMQ consumer per pool of its token, at most `concurrency` at a
 * time; each job runs through RunExecutionJobUseCase, holding a slot of its target (fleet-wide
 * `max_concurrent`, leases in Redis); a job whose targets are all full goes back to its queue for a
 * moment (deferred). Cancel signals arrive over pub/sub (and a flag for jobs not yet started);
 * drain/cordon pause the consumers; shutdown hands back what still runs.
 */
export class ExecutionWorkload implements Workload {
  private consumer: BullmqExecutionConsumer | undefined;
  private readonly active = new Map<string, AbortController>();
  private readonly runtimes = new Map<string, ContainerRuntime>();
  private paused = true;
  private subscribed = false;

  /** Every job of the catalog has exactly one handler here, or the worker does not start. */
  private readonly handlers = handlerRegistry([
    [
      'execution.run',
      (payload: ExecutionRunPayload, workerId: string, keys: RedisKeys, taken: TakenJob) =>
        this.run(payload, workerId, keys, taken),
    ],
  ]);

  constructor(private readonly d: ExecutionWorkloadDeps) {}

  running(): string[] {
    return [...this.active.keys()];
  }

  freeSlots(): number {
    const s = this.d.session();
    return this.paused || !s ? 0 : Math.max(0, s.concurrency - this.active.size);
  }

  async pause(): Promise<void> {
    this.paused = true;
    await this.consumer?.pause();
  }

  async resume(): Promise<void> {
    const s = this.d.session();
    if (!s) return;
    this.paused = false;
    await this.subscribe(s.redis_key_prefix);
    if (!s.capabilities.includes('execute')) {
      // the token no longer lets it execute (a reload): take nothing more; running jobs end as they do
      if (this.consumer) {
        const consumer = this.consumer;
        this.consumer = undefined;
        void consumer.close(false);
        this.d.logger.info('execute capability removed from the token: consuming no execution queue');
      }
      return;
    }
    if (!this.consumer) {
      this.consumer = new BullmqExecutionConsumer(
        {
          ...this.d.queue,
          prefix: `${s.redis_key_prefix}bull`,
          pools: s.pools,
          concurrency: s.concurrency,
          lockDurationMs: this.d.lockDurationMs,
          stalledIntervalMs: Math.max(5000, Math.floor(this.d.lockDurationMs / 2)),
        },
        (payload, job) =>
          this.handlers.get('execution.run')!(payload, s.worker_id, new RedisKeys(s.redis_key_prefix), {
            // when the entry became due: a retry's backoff delay is not waiting time (a deferral's is:
            // it moves the job's own delay, not the delay it was enqueued with)
            enqueuedAt: job.timestamp + (job.opts.delay ?? 0),
            // each take of the entry starts it once; only deferrals take it again (a stalled one fails)
            deferrals: Math.max(0, job.attemptsStarted - 1),
            // its place among jobs waiting for a full target: priority, then when it was queued
            order: turnOrder(job.opts.priority ?? 0, job.timestamp),
          }),
      );
      this.consumer.start();
      this.d.logger.info({ pools: s.pools, concurrency: s.concurrency }, 'consuming execution queues');
    } else {
      // registered again (the token changed): its pools and concurrency are the session's now
      const current = this.consumer.pools();
      if (this.consumer.reconfigure(s.pools, s.concurrency)) {
        this.d.logger.info(
          { pools: s.pools, concurrency: s.concurrency, previous_pools: current },
          'token settings changed: consuming execution queues with the new settings',
        );
      }
      this.consumer.resume();
    }
  }

  /** Waits for running jobs; after `timeoutMs` stops their containers and hands them back. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.active.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (this.active.size) {
      this.d.logger.warn({ jobs: [...this.active.keys()] }, 'shutdown grace over: handing running jobs back');
      for (const c of this.active.values()) c.abort(HAND_BACK);
      const stop = Date.now() + 10_000;
      while (this.active.size && Date.now() < stop) await new Promise((r) => setTimeout(r, 50));
    }
    await this.consumer?.close(true);
    for (const r of this.runtimes.values()) (r as { close?: () => void }).close?.();
  }

  private async run(
    payload: ExecutionRunPayload,
    workerId: string,
    keys: RedisKeys,
    { enqueuedAt, deferrals = 0, order }: TakenJob,
  ): Promise<RunSummary> {
    const controller = new AbortController();
    for (const t of payload.targets) this.d.metrics.remember(t);
    this.active.set(payload.job_id, controller);
    const log = this.d.logger.child({
      job_id: payload.job_id,
      attempt: payload.attempt,
      organization_id: payload.organization_id,
    });
    try {
      const uc = new RunExecutionJobUseCase({
        workerId,
        hostname: this.d.hostname,
        runtimeFor: (t) => this.runtime(t),
        breakers: this.d.breakers,
        slots: new RedisTargetSlots(this.d.redis, keys),
        // a cancel that came before this worker subscribed, or before the job started
        cancelRequested: async (jobId) => (await this.d.redis.exists(keys.jobCancelFlag(jobId))) > 0,
        slotLeaseMs: this.d.lockDurationMs,
        sinkFor: (jobId) => new RedisJobEventSink(this.d.redis, keys, jobId),
        engineEnv: this.d.engineEnv,
        secretEnv: this.d.secretEnv,
        logger: { info: (m, f) => log.info(f ?? {}, m), warn: (m, f) => log.warn(f ?? {}, m) },
      });
      // a job deferred before comes back every few seconds while its targets are full: quieter then
      if (deferrals) log.debug({ deferrals }, 'job started');
      else log.info('job started');
      const summary = await uc.execute(payload, controller.signal, { deferrals, order });
      if (summary.deferred) {
        const f = {
          delay_ms: summary.deferred.delayMs,
          deferrals: deferrals + 1,
          reason: summary.deferred.reason,
        };
        if (deferrals) log.debug(f, 'job deferred: no target has a free slot');
        else log.info(f, 'job deferred: no target has a free slot');
        return summary;
      }
      this.d.metrics.attemptEnded(payload, summary, enqueuedAt);
      log.info(
        { status: summary.status, handed_back: summary.handedBack ?? false, target_id: summary.targetId },
        'job ended',
      );
      return summary;
    } finally {
      this.active.delete(payload.job_id);
    }
  }

  private runtime(t: Target): ContainerRuntime {
    let r = this.runtimes.get(t.id);
    if (!r) {
      r = this.d.makeRuntime(t);
      this.runtimes.set(t.id, r);
    }
    return r;
  }

  private async subscribe(prefix: string): Promise<void> {
    if (this.subscribed) return;
    this.subscribed = true;
    const keys = new RedisKeys(prefix);
    this.d.subscriber.on('message', (channel: string, message: string) => {
      if (channel === keys.cancelChannel()) {
        const c = this.active.get(message);
        if (c) {
          this.d.logger.info({ job_id: message }, 'cancel requested: stopping the container');
          c.abort('cancel');
        }
      } else if (channel === keys.breakerResetChannel()) {
        this.d.breakers.reset(message);
        this.d.logger.info({ target_id: message }, 'circuit breaker reset by an operator');
      }
    });
    await this.d.subscriber.subscribe(keys.cancelChannel(), keys.breakerResetChannel());
  }
}
