import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ForbiddenError, type Principal } from '@agentfleet/domain';
import { RedisJobEventConsumer, type RedisKeys } from '@agentfleet/infra-redis';
import type { Redis } from 'ioredis';
import { CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { CONTROL_PLANE_ENV, type ControlPlaneEnv } from '../env';
import { ReaperService } from '../fleet/reaper.service';
import { CLAIM_IDLE_MS, JOB_EVENTS_GROUP } from '../jobs/job-event-consumer.service';
import { REDIS, REDIS_KEYS } from '../tokens';

/**
 * The control plane's own machinery, instance-wide: the reaper's leader lock and the consumer group of
 * the job-event firehose (docs/runbook.md: AgentFleetNoReaperLeader, AgentFleetEventStream*). It
 * belongs to no organization, so only an instance-admin key reads it. Reads only: XINFO and XPENDING
 * neither create consumers nor move entries.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin/control-plane')
export class AdminControlPlaneController {
  private readonly firehose: RedisJobEventConsumer;

  constructor(
    private readonly reaper: ReaperService,
    @Inject(REDIS) redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    @Inject(CONTROL_PLANE_ENV) private readonly env: ControlPlaneEnv,
  ) {
    // the consumer name is never used: nothing here reads with XREADGROUP
    this.firehose = new RedisJobEventConsumer(redis, keys, JOB_EVENTS_GROUP, 'admin-api');
  }

  @Get()
  @RequireScopes('workers:read', 'jobs:read')
  @ApiOperation({
    summary: "The reaper's leader lock and the job-event consumer group (instance-admin key only)",
    description:
      'reaper: the lock key, its holder (a control-plane replica, `host:pid:random`) and the ms left before ' +
      'it expires (null: nobody holds it, or the key has no expiry), and whether the replica that answered ' +
      'is the leader (the lock as read names it). job_events: the firehose stream and its consumer group — lag (entries not yet ' +
      'delivered; null when Redis cannot tell), pending (delivered, not acknowledged), the oldest pending ' +
      'entry (its consumer, deliveries, age since written, idle since last delivered; entries idle longer ' +
      'than claim_idle_ms are taken over by a live replica) and each consumer with its pending count and ' +
      'idle time (Redis lists a consumer once it has been delivered an entry, and keeps listing it after ' +
      'its process is gone). 403 for any key that is not an instance admin.',
  })
  async view(@CurrentPrincipal() p: Principal) {
    if (!p.instanceAdmin)
      throw new ForbiddenError("only an instance-admin key may read the control plane's machinery");
    const [lock, group, length, consumers, oldest] = await Promise.all([
      this.reaper.lockState(),
      this.firehose.groupInfo(),
      this.firehose.streamLength(),
      this.firehose.consumers(),
      this.firehose.oldestPending(),
    ]);
    return {
      // from the lock just read, not the reaper's own flag: a tick that takes or loses the lock while
      // the reads run would otherwise answer "leader" next to another holder (or none)
      replica: { holder_id: this.reaper.holderId, is_reaper_leader: lock.holderId === this.reaper.holderId },
      reaper: {
        lock_key: lock.key,
        holder_id: lock.holderId,
        ttl_ms: lock.ttlMs,
        lock_ttl_ms: this.env.AGENTFLEET_LEADER_LOCK_TTL_MS,
      },
      job_events: {
        stream: this.keys.jobEventsFirehose(),
        group: JOB_EVENTS_GROUP,
        group_exists: group !== undefined,
        length,
        lag: group?.lag ?? null,
        pending: group?.pending ?? 0,
        claim_idle_ms: CLAIM_IDLE_MS,
        oldest_pending: oldest
          ? {
              id: oldest.id,
              consumer: oldest.consumer,
              deliveries: oldest.deliveries,
              age_ms: oldest.ageMs,
              idle_ms: oldest.idleMs,
            }
          : null,
        consumers: consumers.map((c) => ({
          name: c.name,
          pending: c.pending,
          idle_ms: c.idleMs,
          inactive_ms: c.inactiveMs,
        })),
      },
    };
  }
}
