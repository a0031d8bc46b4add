import type { TargetSlots } from '@agentfleet/execution';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys';

/**
 * The scripts share one clock, Redis's own (TIME), so workers whose clocks drift agree on when a lease
 * ran out. A lease is a member of the target's sorted set scored by its expiry (ms since the epoch).
 */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * The key outlives its longest lease by a second, so the set of a target nobody uses goes away; leases
 * of different lengths (workers with other lock durations) each keep theirs.
 */
const KEEP_UNTIL_LONGEST = `
local longest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if longest[2] then redis.call('PEXPIREAT', KEYS[1], tonumber(longest[2]) + 1000) end`;

/** ARGV: holder, max, ttl ms → 1 taken (or already held, now extended), 0 full. */
const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
${KEEP_UNTIL_LONGEST}
return 1`;

/**
 * ARGV: holder, ttl ms → 1 renewed, 0 not held. A lease past its expiry but still in the set is renewed:
 * it is still there only because no acquire ran since (acquire drops expired leases before counting),
 * so nobody took its place.
 */
const RENEW = `${NOW}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
${KEEP_UNTIL_LONGEST}
return 1`;

/** → live leases (expired ones not counted, and not removed: this one only reads). */
const COUNT = `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`;

type SlotsRedis = Redis & {
  afSlotsAcquire(key: string, holder: string, max: number, ttlMs: number): Promise<number>;
  afSlotsRenew(key: string, holder: string, ttlMs: number): Promise<number>;
  afSlotsCount(key: string): Promise<number>;
};

/**
 * Target slots as a sorted set per target (`target:{id}:slots`), every operation one atomic script:
 * of many workers racing for the last slot exactly one gets it.
 */
export class RedisTargetSlots implements TargetSlots {
  private readonly redis: SlotsRedis;

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    if (!('afSlotsAcquire' in redis)) {
      redis.defineCommand('afSlotsAcquire', { numberOfKeys: 1, lua: ACQUIRE });
      redis.defineCommand('afSlotsRenew', { numberOfKeys: 1, lua: RENEW });
      redis.defineCommand('afSlotsCount', { numberOfKeys: 1, lua: COUNT, readOnly: true });
    }
    this.redis = redis as SlotsRedis;
  }

  async acquire(targetId: string, holder: string, max: number, ttlMs: number): Promise<boolean> {
    return (await this.redis.afSlotsAcquire(this.keys.targetSlots(targetId), holder, max, ttlMs)) === 1;
  }

  async renew(targetId: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.afSlotsRenew(this.keys.targetSlots(targetId), holder, ttlMs)) === 1;
  }

  async release(targetId: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.targetSlots(targetId), holder);
  }

  async count(targetId: string): Promise<number> {
    return Number(await this.redis.afSlotsCount(this.keys.targetSlots(targetId)));
  }
}
