import { type WorkerControlMessage, workerControlMessageSchema } from '@agentfleet/contracts';
import type { HeartbeatOutcome, HeartbeatSender, WorkerBeat } from '@agentfleet/fleet';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys';

/**
 * One round trip per beat: checks the token's revocation/expiry, writes the live hash with its TTL,
 * scores the worker in the alive set with Redis' own clock, and takes up to 100 pending control messages
 * (the rest come with the next beats).
 */
const HEARTBEAT = `
local tok = redis.call('HMGET', KEYS[4], 'revoked', 'expires_at')
if not tok[1] then return {'unknown'} end
if tok[1] == '1' then return {'revoked'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tok[2] and tok[2] ~= '' and now >= tonumber(tok[2]) then return {'expired'} end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'version', ARGV[4], 'running', ARGV[5], 'free_slots', ARGV[6], 'hostname', ARGV[7], 'last_seen', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
-- a bounded batch: unpack() of thousands of messages fails after the list was taken, losing them all
local msgs = redis.call('LRANGE', KEYS[3], 0, 99)
if #msgs > 0 then redis.call('LTRIM', KEYS[3], #msgs, -1) end
return {'ok', tostring(now), unpack(msgs)}`;

type HeartbeatRedis = Redis & {
  afHeartbeat(...args: (string | number)[]): Promise<string[]>;
};

export class RedisHeartbeatSender implements HeartbeatSender {
  private readonly redis: HeartbeatRedis;

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    if (!('afHeartbeat' in redis)) redis.defineCommand('afHeartbeat', { numberOfKeys: 4, lua: HEARTBEAT });
    this.redis = redis as HeartbeatRedis;
  }

  async beat(b: WorkerBeat): Promise<HeartbeatOutcome> {
    const res = await this.redis.afHeartbeat(
      this.keys.worker(b.workerId),
      this.keys.workersAlive(),
      this.keys.workerTasks(b.workerId),
      this.keys.workerToken(b.tokenId),
      b.workerId,
      b.ttlMs,
      b.status,
      b.version,
      JSON.stringify(b.running),
      b.freeSlots,
      b.hostname,
    );
    const [outcome, at, ...raw] = res;
    if (outcome !== 'ok') return { outcome: outcome as 'unknown' | 'revoked' | 'expired', controls: [] };
    const controls: WorkerControlMessage[] = [];
    for (const m of raw) {
      try {
        const parsed = workerControlMessageSchema.safeParse(JSON.parse(m));
        if (parsed.success) controls.push(parsed.data);
      } catch {
        // a malformed control message is dropped; it cannot be acted on
      }
    }
    return { outcome: 'ok', at: new Date(Number(at)), controls };
  }
}
