import { Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { listJobsQuerySchema, poolNameSchema } from '@agentfleet/contracts';
import { NotFoundError, type Principal, type UnitOfWork, actorOf } from '@agentfleet/domain';
import {
  type ExecutionRepositories,
  ManageJobsUseCase,
  type TargetSlots,
  targetView,
} from '@agentfleet/execution';
import type { BullmqExecutionQueue } from '@agentfleet/infra-queue';
import { RedisBreakerBoard, type RedisKeys } from '@agentfleet/infra-redis';
import type { Redis } from 'ioredis';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { UuidParamDto } from '../common/common.dto';
import { EXECUTION_UOW, JOB_QUEUE, REDIS, REDIS_KEYS, TARGET_SLOTS } from '../tokens';

class ListJobsQueryDto extends createZodDto(listJobsQuerySchema) {}
class PoolParamDto extends createZodDto(z.strictObject({ pool: poolNameSchema })) {}
class CleanQueryDto extends createZodDto(
  z.strictObject({
    state: z.enum(['completed', 'failed']).default('completed'),
    older_than_ms: z.coerce
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000)
      .default(3_600_000),
  }),
) {}

/**
 * Operator admin API for execution: queues of the organization's pools (counts, oldest waiting age,
 * pause/resume, retry failed, clean), jobs across the fleet, and circuit breakers per target.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin')
export class AdminExecutionController {
  private readonly breakers: RedisBreakerBoard;

  constructor(
    private readonly jobs: ManageJobsUseCase,
    @Inject(EXECUTION_UOW) private readonly uow: UnitOfWork<ExecutionRepositories>,
    @Inject(JOB_QUEUE) private readonly queue: BullmqExecutionQueue,
    @Inject(REDIS) redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    @Inject(TARGET_SLOTS) private readonly slots: TargetSlots,
  ) {
    this.breakers = new RedisBreakerBoard(redis, keys);
  }

  /** Pools are shared by organizations' targets; an organization manages the queues of its own pools. */
  private async pools(p: Principal): Promise<string[]> {
    const targets = await this.uow.run((repos) =>
      repos.targets.list(p.organizationId, { limit: 1000, offset: 0 }),
    );
    return [...new Set(targets.items.filter((t) => t.isActive).map((t) => t.workerPool))].sort();
  }

  private async ownPool(p: Principal, pool: string): Promise<void> {
    if (!(await this.pools(p)).includes(pool)) throw new NotFoundError('queue of pool', pool);
  }

  @Get('queues')
  @RequireScopes('queues:read')
  @ApiOperation({ summary: 'Per pool: jobs by state, oldest waiting age, paused' })
  async queues(@CurrentPrincipal() p: Principal) {
    return { items: await Promise.all((await this.pools(p)).map((pool) => this.queue.stats(pool))) };
  }

  @Post('queues/:pool/pause')
  @HttpCode(200)
  @RequireScopes('queues:write')
  async pause(
    @CurrentPrincipal() p: Principal,
    @Param() { pool }: PoolParamDto,
    @ClientIp() ip: string | null,
  ) {
    await this.ownPool(p, pool);
    await this.queue.queue(pool).pause();
    await this.audit(p, ip, 'queue.paused', pool);
    return this.queue.stats(pool);
  }

  @Post('queues/:pool/resume')
  @HttpCode(200)
  @RequireScopes('queues:write')
  async resume(
    @CurrentPrincipal() p: Principal,
    @Param() { pool }: PoolParamDto,
    @ClientIp() ip: string | null,
  ) {
    await this.ownPool(p, pool);
    await this.queue.queue(pool).resume();
    await this.audit(p, ip, 'queue.resumed', pool);
    return this.queue.stats(pool);
  }

  @Post('queues/:pool/retry-failed')
  @HttpCode(200)
  @RequireScopes('queues:write')
  @ApiOperation({ summary: 'Retry the queue entries BullMQ failed (payload errors, stalls)' })
  async retryFailed(
    @CurrentPrincipal() p: Principal,
    @Param() { pool }: PoolParamDto,
    @ClientIp() ip: string | null,
  ) {
    await this.ownPool(p, pool);
    await this.queue.queue(pool).retryJobs({ state: 'failed' });
    await this.audit(p, ip, 'queue.retried_failed', pool);
    return this.queue.stats(pool);
  }

  @Post('queues/:pool/clean')
  @HttpCode(200)
  @RequireScopes('queues:write')
  async clean(
    @CurrentPrincipal() p: Principal,
    @Param() { pool }: PoolParamDto,
    @Query() q: CleanQueryDto,
    @ClientIp() ip: string | null,
  ) {
    await this.ownPool(p, pool);
    const removed = await this.queue.queue(pool).clean(q.older_than_ms, 10_000, q.state);
    await this.audit(p, ip, 'queue.cleaned', pool, { state: q.state, removed: removed.length });
    return { removed: removed.length };
  }

  @Get('jobs')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'Jobs across the fleet (filters: status, pool, worker, target, time)' })
  listJobs(@CurrentPrincipal() p: Principal, @Query() q: ListJobsQueryDto) {
    return this.jobs.list(p, q);
  }

  @Get('breakers')
  @RequireScopes('targets:read')
  @ApiOperation({
    summary:
      'Circuit breaker state of each target, as each worker sees it, and its slots: capacity.max_concurrent and the leases held now (containers running on it across the fleet)',
  })
  async breakerStates(@CurrentPrincipal() p: Principal) {
    const targets = await this.uow.run((repos) =>
      repos.targets.list(p.organizationId, { limit: 1000, offset: 0 }),
    );
    const [states, inUse] = await Promise.all([
      this.breakers.read(targets.items.map((t) => t.id)),
      Promise.all(targets.items.map((t) => this.slots.count(t.id))),
    ]);
    return {
      items: targets.items.map((t, i) => {
        const workers = states[t.id] ?? [];
        return {
          target: targetView(t),
          slots: { max_concurrent: t.capacity.max_concurrent, in_use: inUse[i] ?? 0 },
          state: workers.some((w) => w.state === 'open')
            ? 'open'
            : workers.some((w) => w.state === 'half_open')
              ? 'half_open'
              : 'closed',
          workers,
        };
      }),
    };
  }

  @Post('breakers/:id/reset')
  @HttpCode(200)
  @RequireScopes('targets:write')
  @ApiOperation({ summary: "Close the target's breaker on every worker" })
  async resetBreaker(
    @CurrentPrincipal() p: Principal,
    @Param() { id }: UuidParamDto,
    @ClientIp() ip: string | null,
  ) {
    const t = await this.uow.run((repos) => repos.targets.findById(p.organizationId, id));
    if (!t) throw new NotFoundError('execution target', id);
    await this.breakers.requestReset(id);
    await this.audit(p, ip, 'breaker.reset', id, {}, 'execution_target');
    return { target_id: id, reset_requested: true };
  }

  private audit(
    p: Principal,
    ip: string | null,
    action: string,
    id: string,
    details: Record<string, unknown> = {},
    type = 'queue',
  ) {
    return this.uow.run((repos) =>
      repos.audit.record({ actor: actorOf(p, ip), action, resourceType: type, resourceId: id, details }),
    );
  }
}
