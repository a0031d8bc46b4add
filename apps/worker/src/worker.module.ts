import { type DynamicModule, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { createRedis, redactRedisUrl } from '@agentfleet/infra-redis';
import type { Logger } from '@agentfleet/infra-observability';
import type { Redis } from 'ioredis';
import { WORKER_ENV, type WorkerEnv } from './env';
import { WorkerRuntimeService } from './worker-runtime.service';
import { LOGGER, WORKER_REDIS } from './worker.tokens';

/** The worker process: a Nest application context, no public HTTP. */
@Module({})
export class WorkerModule implements OnApplicationShutdown {
  constructor(@Inject(WORKER_REDIS) private readonly redis: Redis) {}

  static forRoot(env: WorkerEnv, logger: Logger): DynamicModule {
    return {
      module: WorkerModule,
      providers: [
        { provide: WORKER_ENV, useValue: env },
        { provide: LOGGER, useValue: logger },
        {
          provide: WORKER_REDIS,
          useFactory: () =>
            createRedis({
              url: env.AGENTFLEET_REDIS_URL,
              name: 'agentfleet-worker',
              // heartbeats must fail fast while Redis is away so the lifecycle can log and back off
              maxRetriesPerRequest: 1,
              // the event appends of every running job share it: one write per event-loop turn
              autoPipelining: true,
              onEvent: (event, detail) => {
                const url = redactRedisUrl(env.AGENTFLEET_REDIS_URL);
                if (event === 'reconnecting')
                  logger.warn({ redis: url }, `Redis unreachable; reconnecting ${detail ?? ''}`);
                else if (event === 'error') logger.warn({ redis: url, error: detail }, 'Redis error');
                else if (event === 'ready') logger.info({ redis: url }, 'Redis ready');
              },
            }),
        },
        WorkerRuntimeService,
      ],
    };
  }

  async onApplicationShutdown() {
    await this.redis.quit().catch(() => undefined);
  }
}
