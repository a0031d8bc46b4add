import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys';

/**
 * Breakers live in each worker (each sees its own failures). Workers post their state changes here; the
 * admin API reads them per target and asks every worker to reset one.
 */
export class RedisBreakerBoard {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async post(targetId: string, workerId: string, state: string): Promise<void> {
    const key = this.keys.breakerStates(targetId);
    await this.redis.multi().hset(key, workerId, `${state}|${Date.now()}`).expire(key, 86_400).exec();
  }

  async read(
    targetIds: readonly string[],
  ): Promise<Record<string, { worker_id: string; state: string; since: string }[]>> {
    const out: Record<string, { worker_id: string; state: string; since: string }[]> = {};
    if (!targetIds.length) return out;
    const pipe = this.redis.pipeline();
    for (const id of targetIds) pipe.hgetall(this.keys.breakerStates(id));
    const res = (await pipe.exec()) ?? [];
    targetIds.forEach((id, i) => {
      const h = (res[i]?.[1] ?? {}) as Record<string, string>;
      out[id] = Object.entries(h).map(([worker_id, v]) => {
        const [state = 'closed', at = '0'] = v.split('|');
        return { worker_id, state, since: new Date(Number(at)).toISOString() };
      });
    });
    return out;
  }

  async requestReset(targetId: string): Promise<void> {
    await this.redis.publish(this.keys.breakerResetChannel(), targetId);
  }
}
