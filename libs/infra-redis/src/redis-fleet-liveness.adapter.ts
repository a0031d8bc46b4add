import type { WorkerControlMessage } from '@agentfleet/contracts';
import type { FleetLiveness, LiveWorkerState } from '@agentfleet/fleet';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys';

/** Removes members whose score is still at or below the cutoff (a fresh heartbeat wins the race). */
const FORGET_STALE = `
local removed = 0
for i = 1, #ARGV - 1 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) <= tonumber(ARGV[#ARGV]) then
    redis.call('ZREM', KEYS[1], ARGV[i]); removed = removed + 1
  end
end
return removed`;

/** Scores a worker with Redis' own clock (the reaper compares against the same clock). */
const MARK_ALIVE = `
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return 1`;

/** The control plane's view of worker liveness in Redis. */
export class RedisFleetLiveness implements FleetLiveness {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** How long control messages wait for a worker that is not beating. */
    private readonly controlTtlSeconds = 3600,
    private readonly tokenStateTtlSeconds = 86_400,
  ) {}

  async publishTokenState(tokenId: string, state: { revoked: boolean; expiresAt: Date | null }) {
    const key = this.keys.workerToken(tokenId);
    await this.redis
      .multi()
      .hset(key, {
        revoked: state.revoked ? '1' : '0',
        expires_at: state.expiresAt ? String(state.expiresAt.getTime()) : '',
      })
      .exec();
  }

  async sendControl(workerId: string, message: WorkerControlMessage) {
    const key = this.keys.workerTasks(workerId);
    await this.redis.multi().rpush(key, JSON.stringify(message)).expire(key, this.controlTtlSeconds).exec();
  }

  async readLive(workerIds: readonly string[]) {
    const out = new Map<string, LiveWorkerState>();
    if (!workerIds.length) return out;
    const pipe = this.redis.pipeline();
    for (const id of workerIds) pipe.hgetall(this.keys.worker(id));
    const res = (await pipe.exec()) ?? [];
    workerIds.forEach((id, i) => {
      const h = res[i]?.[1] as Record<string, string> | undefined;
      if (!h || !h['last_seen']) return;
      out.set(id, {
        status: h['status'] ?? 'unknown',
        version: h['version'] ?? '',
        running: safeJsonArray(h['running']),
        freeSlots: Number(h['free_slots'] ?? 0),
        lastSeen: new Date(Number(h['last_seen'])),
      });
    });
    return out;
  }

  async now() {
    const [sec, usec] = await this.redis.time();
    return new Date(Number(sec) * 1000 + Math.floor(Number(usec) / 1000));
  }

  async staleSince(cutoff: Date, limit: number) {
    return this.redis.zrangebyscore(this.keys.workersAlive(), '-inf', cutoff.getTime(), 'LIMIT', 0, limit);
  }

  async forgetStale(ids: readonly string[], cutoff: Date) {
    if (!ids.length) return;
    await this.redis.eval(FORGET_STALE, 1, this.keys.workersAlive(), ...ids, cutoff.getTime());
  }

  async lastBeats(ids: readonly string[]) {
    const out = new Map<string, Date>();
    if (!ids.length) return out;
    const scores = await this.redis.zmscore(this.keys.workersAlive(), ...ids);
    ids.forEach((id, i) => {
      const s = scores[i];
      if (s !== null && s !== undefined) out.set(id, new Date(Number(s)));
    });
    return out;
  }

  async markAlive(workerId: string) {
    await this.redis.eval(MARK_ALIVE, 1, this.keys.workersAlive(), workerId);
  }

  async forget(workerId: string) {
    await this.redis.multi().zrem(this.keys.workersAlive(), workerId).del(this.keys.worker(workerId)).exec();
  }
}

function safeJsonArray(v: string | undefined): string[] {
  if (!v) return [];
  try {
    const parsed: unknown = JSON.parse(v);
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
}
