import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { WORKER_PROTOCOL_VERSION } from '@agentfleet/contracts';
import { type LifecycleLogger, type StopReason, WorkerLifecycle } from '@agentfleet/fleet';
import { RedisHeartbeatSender, RedisKeys } from '@agentfleet/infra-redis';
import { type Logger, Metrics } from '@agentfleet/infra-observability';
import { WorkerMetrics } from './worker-metrics';
import { setWorkerIdSource } from './log-fields';
import type { Redis } from 'ioredis';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { WORKER_ENV, type WorkerEnv } from './env';
import { startHealthServer } from './health-server';
import { HttpControlPlaneClient } from './http-control-plane.client';
import { ExecutionWorkload } from './execution/execution.workload';
import { makeRuntime } from './execution/runtime.factory';
import { OpossumBreakers } from '@agentfleet/infra-resilience';
import { RedisBreakerBoard } from '@agentfleet/infra-redis';
import { bullConnection } from '@agentfleet/infra-queue';
import { LOGGER, WORKER_REDIS } from './worker.tokens';

export const WORKER_VERSION = process.env['npm_package_version'] ?? '0.1.0';

/** Wires the worker's lifecycle: registration, heartbeats, control messages, health endpoint. */
@Injectable()
export class WorkerRuntimeService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly lifecycle: WorkerLifecycle;
  private health: Server | undefined;
  private readonly breakers: OpossumBreakers;
  private readonly subscriber: Redis;
  readonly metrics: WorkerMetrics;

  constructor(
    @Inject(WORKER_ENV) private readonly env: WorkerEnv,
    @Inject(WORKER_REDIS) redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const log: LifecycleLogger = {
      info: (msg, f) => logger.info(f ?? {}, msg),
      warn: (msg, f) => logger.warn(f ?? {}, msg),
      error: (msg, f) => logger.error(f ?? {}, msg),
    };
    this.metrics = new WorkerMetrics(
      new Metrics('worker', WORKER_VERSION, (e) =>
        logger.warn({ error: e instanceof Error ? e.message : String(e) }, 'metrics collector failed'),
      ).registerAll(),
    );
    // breakers are this worker's own view of each target; their changes are posted for the admin API
    this.breakers = new OpossumBreakers((targetId, state) => {
      const s = this.lifecycle.currentSession;
      logger.warn({ target_id: targetId, state }, 'circuit breaker state changed');
      this.metrics.breakerChanged(targetId, state);
      if (s)
        void new RedisBreakerBoard(redis, new RedisKeys(s.redis_key_prefix))
          .post(targetId, s.worker_id, state)
          .catch(() => undefined);
    });
    this.subscriber = redis.duplicate({ enableAutoPipelining: false });
    this.subscriber.on('error', () => undefined);
    const client = new HttpControlPlaneClient(env.AGENTFLEET_CONTROL_PLANE_URL, env.AGENTFLEET_WORKER_TOKEN);
    const workload = new ExecutionWorkload({
      session: () => this.lifecycle.currentSession,
      redis,
      subscriber: this.subscriber,
      queue: { connection: bullConnection(env.AGENTFLEET_REDIS_URL) },
      breakers: this.breakers,
      makeRuntime: (t) => makeRuntime(t, env),
      engineEnv: async (engineId, jobId) => {
        const c = await client.engineConfig(engineId, jobId);
        // the agent-runtime's variables (apps/agent-runtime/src/env.ts); the key goes apart, as a secret,
        // so a runtime keeps it out of what it stores in plain text (a Kubernetes Job's spec)
        return {
          env: {
            AGENTFLEET_ENGINE_PROVIDER: c.provider,
            AGENTFLEET_ENGINE_MODEL: c.model,
            AGENTFLEET_ENGINE_MAX_TOKENS: String(c.max_tokens),
            AGENTFLEET_ENGINE_TIMEOUT_MS: String(c.timeout_ms),
            ...(c.base_url ? { AGENTFLEET_ENGINE_BASE_URL: c.base_url } : {}),
            ...(c.system_prompt ? { AGENTFLEET_ENGINE_SYSTEM_PROMPT: c.system_prompt } : {}),
          },
          secretEnv: { ...(c.api_key ? { AGENTFLEET_ENGINE_API_KEY: c.api_key } : {}) },
        };
      },
      secretEnv: (jobId, attempt) => client.jobSecretEnv(jobId, attempt),
      hostname: hostname(),
      logger,
      lockDurationMs: env.AGENTFLEET_JOB_LOCK_DURATION_MS,
      metrics: this.metrics,
    });
    this.metrics.watch(
      () => ({ busy: workload.running().length, free: workload.freeSlots() }),
      this.breakers,
    );
    this.lifecycle = new WorkerLifecycle({
      registration: {
        instance_id: env.AGENTFLEET_WORKER_INSTANCE_ID,
        hostname: hostname(),
        version: WORKER_VERSION,
        protocol_version: WORKER_PROTOCOL_VERSION,
        labels: env.AGENTFLEET_WORKER_LABELS,
        capacity: {
          memory_mb: env.AGENTFLEET_WORKER_MEMORY_MB,
          cpus: env.AGENTFLEET_WORKER_CPUS,
          runtimes: env.AGENTFLEET_WORKER_RUNTIMES,
          ...(env.AGENTFLEET_WORKER_SLOTS ? { slots: env.AGENTFLEET_WORKER_SLOTS } : {}),
        },
      },
      client,
      heartbeatFor: (prefix) =>
        this.metrics.timedHeartbeats(new RedisHeartbeatSender(redis, new RedisKeys(prefix))),
      workload,
      logger: log,
      shutdownGraceMs: env.AGENTFLEET_SHUTDOWN_GRACE_MS,
    });
    setWorkerIdSource(() => this.lifecycle.workerId);
  }

  async onApplicationBootstrap() {
    if (this.env.AGENTFLEET_WORKER_HEALTH_PORT > 0) {
      this.health = await startHealthServer(
        this.env.AGENTFLEET_WORKER_HEALTH_PORT,
        this.env.AGENTFLEET_WORKER_HEALTH_HOST,
        () => this.lifecycle.workerId !== undefined,
        this.metrics.metrics,
      );
    }
    const s = await this.lifecycle.start();
    this.logger.info({ worker_id: s.worker_id }, 'worker online');
  }

  /** Idempotent: main.ts has already stopped the lifecycle with the real reason when it closes the app. */
  async onApplicationShutdown() {
    await this.lifecycle.stop({ kind: 'signal', signal: 'shutdown' });
    await new Promise<void>((r) => (this.health ? this.health.close(() => r()) : r()));
    this.breakers.shutdown();
    this.subscriber.disconnect();
  }

  whenStopped(): Promise<StopReason> {
    return this.lifecycle.whenStopped();
  }
}
