import type { RateLimiter } from '@agentfleet/access';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys';

const HOUR_MS = 3_600_000;

/** Fixed one-hour windows counted with INCR; the counter expires with its window. */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly now: () => number = Date.now,
  ) {}

  async hit(key: string, limitPerHour: number) {
    const t = this.now();
    const window = Math.floor(t / HOUR_MS);
    const k = this.keys.rateLimit(key, window);
    const res = await this.redis
      .multi()
      .incr(k)
      .pexpire(k, HOUR_MS + 60_000)
      .exec();
    const count = Number(res?.[0]?.[1] ?? 0);
    const retryAfterSeconds = Math.ceil(((window + 1) * HOUR_MS - t) / 1000);
    return { allowed: count <= limitPerHour, retryAfterSeconds };
  }
}
