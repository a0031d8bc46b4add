import type { LeaseRenewal, TargetSlots } from '@agentfleet/execution';
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
 * of different lengths (workers with other lock durations) each keep theirs. GT only ever moves the
 * expiry later, in one call; a key without one yet (just made by ZADD) counts as never expiring for GT,
 * so it gets its first expiry from the second call. Expects `keep` (the lease's expiry + 1 s).
 */
const KEEP_UNTIL = `
if redis.call('PEXPIREAT', KEYS[1], keep, 'GT') == 0 and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIREAT', KEYS[1], keep)
end`;

/**
 * KEYS: slots, waiting (score = order), waiting-until (score = when the place lapses).
 * ARGV: holder, max, ttl ms, order, wait ttl ms → -1 taken (or already held, now extended), else how
 * many wait before `holder`, which now has (or keeps) its place. Places that lapsed are dropped before
 * they are counted. Every redis.call inside a script costs Redis a few µs on top of the command, so the
 * common case (nobody waiting, a slot free) makes seven.
 */
const ACQUIRE_IN_TURN = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local holder = ARGV[1]
local ahead = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. ARGV[4])
if ahead > 0 then
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 500)
  if #lapsed > 0 then
    redis.call('ZREM', KEYS[2], unpack(lapsed))
    redis.call('ZREM', KEYS[3], unpack(lapsed))
    ahead = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. ARGV[4])
  end
end
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
if ahead < free or redis.call('ZSCORE', KEYS[1], holder) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), holder)
  if redis.call('ZREM', KEYS[2], holder) == 1 then redis.call('ZREM', KEYS[3], holder) end
  local keep = now + tonumber(ARGV[3]) + 1000
  ${KEEP_UNTIL}
  return -1
end
redis.call('ZADD', KEYS[2], ARGV[4], holder)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), holder)
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], tonumber(last[2]) + 1000)
redis.call('PEXPIREAT', KEYS[3], tonumber(last[2]) + 1000)
return ahead`;

/**
 * ARGV: holder, max, ttl ms → 1 renewed, 2 lapsed and taken again, 0 lapsed and the target full. A lease
 * past its expiry but still in the set is renewed: it is still there only because no acquire ran since
 * (acquire drops expired leases before counting), so nobody took its place. A lapsed one is taken again
 * whoever waits in line: its container runs already.
 */
const RENEW = `${NOW}
local result = 1
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[3]), ARGV[1])
else
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  result = 2
end
local keep = now + tonumber(ARGV[3]) + 1000
${KEEP_UNTIL}
return result`;

/** → live leases (expired ones not counted, and not removed: this one only reads). */
const COUNT = `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`;

type SlotsRedis = Redis & {
  afSlotsAcquireInTurn(
    slots: string,
    waiting: string,
    waitingUntil: string,
    holder: string,
    max: number,
    ttlMs: number,
    order: number,
    waitTtlMs: number,
  ): Promise<number>;
  afSlotsRenew(key: string, holder: string, max: number, ttlMs: number): Promise<number>;
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
    if (!('afSlotsAcquireInTurn' in redis)) {
      redis.defineCommand('afSlotsAcquireInTurn', { numberOfKeys: 3, lua: ACQUIRE_IN_TURN });
      redis.defineCommand('afSlotsRenew', { numberOfKeys: 1, lua: RENEW });
      redis.defineCommand('afSlotsCount', { numberOfKeys: 1, lua: COUNT, readOnly: true });
    }
    this.redis = redis as SlotsRedis;
  }

  async acquireInTurn(
    targetId: string,
    holder: string,
    max: number,
    ttlMs: number,
    turn: { order: number; waitTtlMs: number },
  ): Promise<{ taken: true } | { taken: false; ahead: number }> {
    const r = Number(
      await this.redis.afSlotsAcquireInTurn(
        this.keys.targetSlots(targetId),
        this.keys.targetWaiting(targetId),
        this.keys.targetWaitingUntil(targetId),
        holder,
        max,
        ttlMs,
        turn.order,
        turn.waitTtlMs,
      ),
    );
    return r < 0 ? { taken: true } : { taken: false, ahead: r };
  }

  async leaveTurns(targetIds: readonly string[], holder: string): Promise<void> {
    if (!targetIds.length) return;
    const m = this.redis.multi();
    for (const id of targetIds)
      m.zrem(this.keys.targetWaiting(id), holder).zrem(this.keys.targetWaitingUntil(id), holder);
    await m.exec();
  }

  async renew(targetId: string, holder: string, max: number, ttlMs: number): Promise<LeaseRenewal> {
    const r = Number(await this.redis.afSlotsRenew(this.keys.targetSlots(targetId), holder, max, ttlMs));
    return r === 1 ? 'renewed' : r === 2 ? 'retaken' : 'full';
  }

  async release(targetId: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.targetSlots(targetId), holder);
  }

  async count(targetId: string): Promise<number> {
    return Number(await this.redis.afSlotsCount(this.keys.targetSlots(targetId)));
  }
}
