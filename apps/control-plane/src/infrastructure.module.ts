import {
  Global,
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { systemClock } from '@agentfleet/domain';
import { AesGcmSecretBox, NodeCredentialHasher } from '@agentfleet/infra-crypto';
import {
  TypeormAuditLogRepository,
  TypeormFleetStatsReader,
  TypeormUnitOfWork,
  accessRepositories,
  createDataSource,
  executionRepositories,
  fleetRepositories,
  runMigrations,
} from '@agentfleet/infra-persistence';
import {
  RedisAttemptEvidence,
  RedisFleetLiveness,
  RedisJobSignals,
  RedisTargetSlots,
  RedisKeys,
  RedisRateLimiter,
  createRedis,
  redactRedisUrl,
} from '@agentfleet/infra-redis';
import { BullmqExecutionQueue, bullConnection } from '@agentfleet/infra-queue';
import { Metrics } from '@agentfleet/infra-observability';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { CONTROL_PLANE_ENV, type ControlPlaneEnv } from './env';
import { CONTROL_PLANE_VERSION } from './version';
import {
  ACCESS_UOW,
  ATTEMPT_EVIDENCE,
  AUDIT_READER,
  CLOCK,
  CREDENTIAL_HASHER,
  DATA_SOURCE,
  EXECUTION_UOW,
  FLEET_LIVENESS,
  FLEET_SETTINGS,
  FLEET_STATS,
  FLEET_UOW,
  JOB_QUEUE,
  JOB_SIGNALS,
  TARGET_SLOTS,
  METRICS_REGISTRY,
  RATE_LIMITER,
  REDIS,
  REDIS_KEYS,
  SECRET_BOX,
} from './tokens';

/** The adapters behind every port, wired once. Connections close on shutdown. */
@Global()
@Module({})
export class InfrastructureModule implements OnApplicationShutdown {
  constructor(
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(JOB_QUEUE) private readonly queue: BullmqExecutionQueue,
  ) {}

  static forRoot(env: ControlPlaneEnv): DynamicModule {
    const logger = new Logger('infrastructure');
    const providers = [
      { provide: CONTROL_PLANE_ENV, useValue: env },
      {
        provide: METRICS_REGISTRY,
        useFactory: () =>
          new Metrics('control-plane', CONTROL_PLANE_VERSION, (e) =>
            logger.warn(`metrics collector failed: ${e instanceof Error ? e.message : String(e)}`),
          ).registerAll(),
      },
      {
        provide: DATA_SOURCE,
        useFactory: async () => {
          const ds = createDataSource({
            url: env.AGENTFLEET_DATABASE_URL,
            poolSize: env.AGENTFLEET_DATABASE_POOL_SIZE,
            preparedStatements: env.AGENTFLEET_DATABASE_PREPARED_STATEMENTS,
            applicationName: 'agentfleet-control-plane',
          });
          await ds.initialize();
          if (env.AGENTFLEET_MIGRATE_ON_START) {
            const applied = await runMigrations(ds);
            if (applied.length) logger.log(`applied migrations: ${applied.join(', ')}`);
          }
          return ds;
        },
      },
      {
        provide: REDIS,
        useFactory: () =>
          createRedis({
            url: env.AGENTFLEET_REDIS_URL,
            name: 'agentfleet-control-plane',
            onEvent: (event, detail) => {
              if (event === 'error' || event === 'reconnecting') {
                logger.warn(
                  `Redis ${redactRedisUrl(env.AGENTFLEET_REDIS_URL)} ${event}${detail ? `: ${detail}` : ''}`,
                );
              } else if (event === 'ready') logger.log('Redis ready');
            },
          }),
      },
      { provide: REDIS_KEYS, useValue: new RedisKeys(env.AGENTFLEET_REDIS_PREFIX) },
      { provide: CREDENTIAL_HASHER, useValue: new NodeCredentialHasher() },
      { provide: CLOCK, useValue: systemClock },
      { provide: SECRET_BOX, useValue: new AesGcmSecretBox(env.AGENTFLEET_SECRET_KEYS) },
      {
        provide: ACCESS_UOW,
        inject: [DATA_SOURCE],
        useFactory: (ds: DataSource) => new TypeormUnitOfWork(ds, accessRepositories),
      },
      {
        provide: FLEET_UOW,
        inject: [DATA_SOURCE],
        useFactory: (ds: DataSource) => new TypeormUnitOfWork(ds, fleetRepositories),
      },
      {
        provide: EXECUTION_UOW,
        inject: [DATA_SOURCE],
        useFactory: (ds: DataSource) => new TypeormUnitOfWork(ds, executionRepositories),
      },
      {
        provide: JOB_QUEUE,
        useFactory: () =>
          new BullmqExecutionQueue({
            // no offline queue: while Redis is away an enqueue fails at once instead of holding the
            // request until Redis is back; the job is already committed and the dispatcher sweep
            // enqueues it (cancel and the admin queue calls answer 5xx at once, too)
            connection: { ...bullConnection(env.AGENTFLEET_REDIS_URL), enableOfflineQueue: false },
            prefix: `${env.AGENTFLEET_REDIS_PREFIX}bull`,
          }),
      },
      {
        provide: JOB_SIGNALS,
        inject: [REDIS, REDIS_KEYS],
        useFactory: (r: Redis, k: RedisKeys) => new RedisJobSignals(r, k),
      },
      {
        provide: TARGET_SLOTS,
        inject: [REDIS, REDIS_KEYS],
        useFactory: (r: Redis, k: RedisKeys) => new RedisTargetSlots(r, k),
      },
      {
        provide: ATTEMPT_EVIDENCE,
        inject: [REDIS, REDIS_KEYS],
        useFactory: (r: Redis, k: RedisKeys) => new RedisAttemptEvidence(r, k),
      },
      {
        provide: AUDIT_READER,
        inject: [DATA_SOURCE],
        useFactory: (ds: DataSource) => new TypeormAuditLogRepository(ds.manager),
      },
      {
        provide: FLEET_STATS,
        inject: [DATA_SOURCE],
        useFactory: (ds: DataSource) => new TypeormFleetStatsReader(ds),
      },
      {
        provide: FLEET_LIVENESS,
        inject: [REDIS, REDIS_KEYS],
        useFactory: (r: Redis, k: RedisKeys) => new RedisFleetLiveness(r, k),
      },
      {
        provide: RATE_LIMITER,
        inject: [REDIS, REDIS_KEYS],
        useFactory: (r: Redis, k: RedisKeys) => new RedisRateLimiter(r, k),
      },
      {
        provide: FLEET_SETTINGS,
        useValue: {
          heartbeatIntervalMs: env.AGENTFLEET_HEARTBEAT_INTERVAL_MS,
          gracePeriodMs: env.AGENTFLEET_WORKER_GRACE_PERIOD_MS,
          redisKeyPrefix: env.AGENTFLEET_REDIS_PREFIX,
        },
      },
    ];
    return { module: InfrastructureModule, providers, exports: providers.map((p) => p.provide) };
  }

  async onApplicationShutdown() {
    await this.queue.close();
    await Promise.allSettled([this.ds.destroy(), this.redis.quit()]);
  }
}
