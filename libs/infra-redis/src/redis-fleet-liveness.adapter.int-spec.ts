import { randomUUID } from 'node:crypto';
import { createTestRedis, type TestRedis, waitFor } from '@agentfleet/testing';
import { RedisFleetLiveness } from './redis-fleet-liveness.adapter';
import { RedisHeartbeatSender } from './redis-heartbeat.adapter';
import { RedisKeys } from './redis-keys';

describe('RedisFleetLiveness', () => {
  let t: TestRedis;
  let keys: RedisKeys;
  let liveness: RedisFleetLiveness;
  let sender: RedisHeartbeatSender;
  const tokenId = randomUUID();

  beforeEach(async () => {
    t = createTestRedis();
    keys = new RedisKeys(t.prefix);
    liveness = new RedisFleetLiveness(t.redis, keys, 120);
    sender = new RedisHeartbeatSender(t.redis, keys);
    await liveness.publishTokenState(tokenId, { revoked: false, expiresAt: null });
  });
  afterEach(() => t.cleanup());

  /** A real heartbeat; returns the Redis time it was scored with. */
  async function beat(workerId: string): Promise<Date> {
    const res = await sender.beat({
      workerId,
      tokenId,
      ttlMs: 30_000,
      status: 'online',
      version: '1.0.0',
      hostname: 'h',
      running: [],
      freeSlots: 1,
    });
    if (res.outcome !== 'ok') throw new Error(`heartbeat refused: ${res.outcome}`);
    return res.at;
  }

  /** Resolves once Redis' clock is strictly after `at` (scores have millisecond resolution). */
  async function redisTimePast(at: Date): Promise<Date> {
    return waitFor(
      async () => {
        const now = await liveness.now();
        return now.getTime() > at.getTime() ? now : undefined;
      },
      { what: 'Redis time to advance' },
    );
  }

  it('now() reads the Redis server clock', async () => {
    const [sec, usec] = await t.redis.time();
    const now = await liveness.now();
    expect(now.getTime()).toBeGreaterThanOrEqual(Number(sec) * 1000 + Math.floor(Number(usec) / 1000));
  });

  it('publishTokenState writes revocation and expiry as the heartbeat script reads them', async () => {
    const id = randomUUID();
    const expiresAt = new Date('2030-01-01T00:00:00Z');
    await liveness.publishTokenState(id, { revoked: true, expiresAt });
    expect(await t.redis.hgetall(keys.workerToken(id))).toEqual({
      revoked: '1',
      expires_at: String(expiresAt.getTime()),
    });
    await liveness.publishTokenState(id, { revoked: false, expiresAt: null });
    expect(await t.redis.hgetall(keys.workerToken(id))).toEqual({ revoked: '0', expires_at: '' });
  });

  it('sendControl queues JSON messages in order with the configured TTL', async () => {
    const id = randomUUID();
    await liveness.sendControl(id, { type: 'drain' });
    await liveness.sendControl(id, { type: 'stop', reason: 'bye' });
    expect(await t.redis.lrange(keys.workerTasks(id), 0, -1)).toEqual([
      JSON.stringify({ type: 'drain' }),
      JSON.stringify({ type: 'stop', reason: 'bye' }),
    ]);
    const ttl = await t.redis.ttl(keys.workerTasks(id));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('staleSince returns workers whose last beat is at or before the cutoff, up to the limit', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const atA = await beat(a);
    await beat(b);
    const cutoff = await redisTimePast(atA);
    const fresh = randomUUID();
    await redisTimePast(cutoff);
    await beat(fresh);

    const stale = await liveness.staleSince(cutoff, 10);
    expect(stale.sort()).toEqual([a, b].sort());
    expect(await liveness.staleSince(cutoff, 1)).toHaveLength(1);
    expect(await liveness.staleSince(new Date(atA.getTime() - 1), 10)).toEqual([]);
  });

  it('forgetStale removes stale workers but not one that beat again after the cutoff', async () => {
    const [stale, revived] = [randomUUID(), randomUUID()];
    await beat(stale);
    const beforeCutoff = await beat(revived);
    const cutoff = await redisTimePast(beforeCutoff);
    // the reaper read both as stale at `cutoff`; then `revived` beats before it gets to forget them
    expect((await liveness.staleSince(cutoff, 10)).sort()).toEqual([stale, revived].sort());
    await redisTimePast(cutoff);
    const revivedAt = await beat(revived);
    expect(revivedAt.getTime()).toBeGreaterThan(cutoff.getTime());

    await liveness.forgetStale([stale, revived], cutoff);

    const beats = await liveness.lastBeats([stale, revived]);
    expect(beats.has(stale)).toBe(false);
    expect(beats.get(revived)).toEqual(revivedAt);
  });

  it('forgetStale removes a worker whose score equals the cutoff, and ignores unknown ids and an empty list', async () => {
    const id = randomUUID();
    const at = await beat(id);
    await liveness.forgetStale([], at);
    await liveness.forgetStale([randomUUID(), id], at);
    expect(await t.redis.zscore(keys.workersAlive(), id)).toBeNull();
  });

  it('lastBeats returns the last heartbeat of workers still in the alive set and omits the others', async () => {
    const [a, b, gone] = [randomUUID(), randomUUID(), randomUUID()];
    const atA = await beat(a);
    const atB = await beat(b);
    const beats = await liveness.lastBeats([a, b, gone]);
    expect([...beats.keys()].sort()).toEqual([a, b].sort());
    expect(beats.get(a)).toEqual(atA);
    expect(beats.get(b)).toEqual(atB);
    expect((await liveness.lastBeats([])).size).toBe(0);
  });

  it('readLive returns the state of beating workers and skips unknown ones', async () => {
    const id = randomUUID();
    const at = await beat(id);
    const live = await liveness.readLive([id, randomUUID()]);
    expect([...live.keys()]).toEqual([id]);
    expect(live.get(id)).toEqual({
      status: 'online',
      version: '1.0.0',
      running: [],
      freeSlots: 1,
      lastSeen: at,
    });
    expect((await liveness.readLive([])).size).toBe(0);
  });

  it('readLive tolerates a malformed running list', async () => {
    const id = randomUUID();
    await beat(id);
    await t.redis.hset(keys.worker(id), 'running', '{not json');
    expect((await liveness.readLive([id])).get(id)?.running).toEqual([]);
  });

  it('forget drops the live hash and the alive entry', async () => {
    const id = randomUUID();
    await beat(id);
    await liveness.forget(id);
    expect(await t.redis.exists(keys.worker(id))).toBe(0);
    expect((await liveness.lastBeats([id])).size).toBe(0);
    expect((await liveness.readLive([id])).size).toBe(0);
  });

  it('keeps installations with different prefixes apart', async () => {
    const other = createTestRedis();
    try {
      const otherLiveness = new RedisFleetLiveness(other.redis, new RedisKeys(other.prefix));
      const id = randomUUID();
      await beat(id);
      expect((await otherLiveness.lastBeats([id])).size).toBe(0);
      expect(await otherLiveness.staleSince(new Date(Date.now() + 3_600_000), 10)).toEqual([]);
    } finally {
      await other.cleanup();
    }
  });
});
