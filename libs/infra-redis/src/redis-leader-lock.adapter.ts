import type { LeaderLock } from '@agentfleet/fleet';
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Leader election by a Redis lock: SET NX PX to take it, compare-and-expire to keep it. A leader that
 * dies stops renewing and another replica takes over once the TTL runs out.
 */
export class RedisLeaderLock implements LeaderLock {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    readonly holderId: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes or keeps the lock; true while this holder is the leader. */
  async acquireOrRenew(): Promise<boolean> {
    const renewed = (await this.redis.eval(RENEW, 1, this.key, this.holderId, this.ttlMs)) as number;
    if (renewed === 1) return true;
    const set = await this.redis.set(this.key, this.holderId, 'PX', this.ttlMs, 'NX');
    return set === 'OK';
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.holderId);
  }

  async currentHolder(): Promise<string | null> {
    return this.redis.get(this.key);
  }

  /** Who holds the lock and for how much longer (null: nobody, or a key without expiry); reads only. */
  async state(): Promise<{ holderId: string | null; ttlMs: number | null }> {
    const res = await this.redis.multi().get(this.key).pttl(this.key).exec();
    const holderId = (res?.[0]?.[1] as string | null | undefined) ?? null;
    const pttl = Number(res?.[1]?.[1] ?? -2);
    return { holderId, ttlMs: holderId !== null && pttl >= 0 ? pttl : null };
  }
}
