import { randomUUID } from 'node:crypto';
import type { WorkerBeat } from '@agentfleet/fleet';
import { createTestRedis, type TestRedis, waitFor } from '@agentfleet/testing';
import { RedisFleetLiveness } from './redis-fleet-liveness.adapter';
import { RedisHeartbeatSender } from './redis-heartbeat.adapter';
import { RedisKeys } from './redis-keys';

/** Resolves once Redis' clock is strictly after `t` (scores have millisecond resolution). */
async function redisTimePast(liveness: RedisFleetLiveness, t: Date): Promise<void> {
  await waitFor(async () => (await liveness.now()).getTime() > t.getTime(), {
    what: 'Redis time to advance',
  });
}

describe('RedisHeartbeatSender', () => {
  let t: TestRedis;
  let keys: RedisKeys;
  let sender: RedisHeartbeatSender;
  let liveness: RedisFleetLiveness;

  beforeEach(() => {
    t = createTestRedis();
    keys = new RedisKeys(t.prefix);
    sender = new RedisHeartbeatSender(t.redis, keys);
    liveness = new RedisFleetLiveness(t.redis, keys);
  });
  afterEach(() => t.cleanup());

  function beat(over: Partial<WorkerBeat> = {}): WorkerBeat {
    return {
      workerId: randomUUID(),
      tokenId: randomUUID(),
      ttlMs: 30_000,
      status: 'online',
      version: '1.2.3',
      hostname: 'host-1',
      running: ['job-1', 'job-2'],
      freeSlots: 2,
      ...over,
    };
  }

  async function noLiveState(b: WorkerBeat) {
    expect(await t.redis.exists(keys.worker(b.workerId))).toBe(0);
    expect(await t.redis.zscore(keys.workersAlive(), b.workerId)).toBeNull();
  }

  it('answers unknown, and writes nothing, when Redis has no state for the token (Redis restarted)', async () => {
    const b = beat();
    expect(await sender.beat(b)).toEqual({ outcome: 'unknown', controls: [] });
    await noLiveState(b);
  });

  it('answers revoked, and writes nothing, for a revoked token even if it also expired', async () => {
    const b = beat();
    await liveness.publishTokenState(b.tokenId, { revoked: true, expiresAt: new Date(Date.now() - 60_000) });
    expect(await sender.beat(b)).toEqual({ outcome: 'revoked', controls: [] });
    await noLiveState(b);
  });

  it('answers expired, and writes nothing, once Redis time reaches the token expiry', async () => {
    const b = beat();
    const now = await liveness.now();
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: now });
    expect(await sender.beat(b)).toEqual({ outcome: 'expired', controls: [] });
    await noLiveState(b);
  });

  it('answers ok for a token that expires in the future or never', async () => {
    const future = beat();
    await liveness.publishTokenState(future.tokenId, {
      revoked: false,
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect((await sender.beat(future)).outcome).toBe('ok');
    const never = beat();
    await liveness.publishTokenState(never.tokenId, { revoked: false, expiresAt: null });
    expect((await sender.beat(never)).outcome).toBe('ok');
  });

  it('a token revoked after a worker started beating is refused at the next beat', async () => {
    const b = beat();
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: null });
    expect((await sender.beat(b)).outcome).toBe('ok');
    await liveness.publishTokenState(b.tokenId, { revoked: true, expiresAt: null });
    expect((await sender.beat(b)).outcome).toBe('revoked');
  });

  it('ok writes the live hash with a TTL and scores the worker with Redis time', async () => {
    const b = beat({ ttlMs: 30_000 });
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: null });
    const before = await liveness.now();
    const res = await sender.beat(b);
    const after = await liveness.now();
    if (res.outcome !== 'ok') throw new Error(`expected ok, got ${res.outcome}`);

    expect(res.at.getTime()).toBeGreaterThanOrEqual(before.getTime());
    expect(res.at.getTime()).toBeLessThanOrEqual(after.getTime());
    expect(Number(await t.redis.zscore(keys.workersAlive(), b.workerId))).toBe(res.at.getTime());

    const pttl = await t.redis.pttl(keys.worker(b.workerId));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(30_000);
    expect(await t.redis.hgetall(keys.worker(b.workerId))).toEqual({
      status: 'online',
      version: '1.2.3',
      running: JSON.stringify(['job-1', 'job-2']),
      free_slots: '2',
      hostname: 'host-1',
      last_seen: String(res.at.getTime()),
    });
    // and the control plane reads back what the worker wrote
    expect((await liveness.readLive([b.workerId])).get(b.workerId)).toEqual({
      status: 'online',
      version: '1.2.3',
      running: ['job-1', 'job-2'],
      freeSlots: 2,
      lastSeen: res.at,
    });
  });

  it('each beat refreshes the TTL and moves the score forward', async () => {
    const b = beat({ ttlMs: 60_000 });
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: null });
    const first = await sender.beat(b);
    if (first.outcome !== 'ok') throw new Error('expected ok');
    await t.redis.pexpire(keys.worker(b.workerId), 1_000); // as if most of the TTL had run out
    await redisTimePast(liveness, first.at);
    const second = await sender.beat({ ...b, status: 'draining', running: [] });
    if (second.outcome !== 'ok') throw new Error('expected ok');
    expect(second.at.getTime()).toBeGreaterThan(first.at.getTime());
    expect(await t.redis.pttl(keys.worker(b.workerId))).toBeGreaterThan(1_000);
    expect(Number(await t.redis.zscore(keys.workersAlive(), b.workerId))).toBe(second.at.getTime());
    expect(await t.redis.hget(keys.worker(b.workerId), 'status')).toBe('draining');
  });

  it('delivers pending control messages once, in order, and then they are gone', async () => {
    const b = beat();
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: null });
    await liveness.sendControl(b.workerId, { type: 'cordon' });
    await liveness.sendControl(b.workerId, { type: 'stop', reason: 'token revoked' });
    const first = await sender.beat(b);
    expect(first).toMatchObject({
      outcome: 'ok',
      controls: [{ type: 'cordon' }, { type: 'stop', reason: 'token revoked' }],
    });
    expect(await t.redis.exists(keys.workerTasks(b.workerId))).toBe(0);
    expect((await sender.beat(b)).controls).toEqual([]);
  });

  it('control messages wait while the token is refused and are not consumed by a refused beat', async () => {
    const b = beat();
    await liveness.sendControl(b.workerId, { type: 'drain' });
    expect((await sender.beat(b)).outcome).toBe('unknown');
    expect(await t.redis.llen(keys.workerTasks(b.workerId))).toBe(1);
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: null });
    expect((await sender.beat(b)).controls).toEqual([{ type: 'drain' }]);
  });

  it('drops malformed control messages and still delivers the valid ones', async () => {
    const b = beat();
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: null });
    await t.redis.rpush(keys.workerTasks(b.workerId), 'not json', JSON.stringify({ type: 'explode' }));
    await liveness.sendControl(b.workerId, { type: 'uncordon' });
    const res = await sender.beat(b);
    expect(res).toMatchObject({ outcome: 'ok', controls: [{ type: 'uncordon' }] });
    expect(await t.redis.exists(keys.workerTasks(b.workerId))).toBe(0);
  });

  it('concurrent beats of one worker take each control message exactly once', async () => {
    const b = beat();
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: null });
    for (let i = 0; i < 5; i++) await liveness.sendControl(b.workerId, { type: 'stop', reason: `r${i}` });
    const results = await Promise.all(Array.from({ length: 5 }, () => sender.beat(b)));
    const delivered = results.flatMap((r) => r.controls);
    expect(delivered).toHaveLength(5);
    expect(new Set(delivered.map((m) => (m.type === 'stop' ? m.reason : m.type))).size).toBe(5);
  });

  it('a backlog of thousands of control messages is delivered over successive beats, in order, none lost', async () => {
    const b = beat();
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: null });
    const backlog = Array.from({ length: 10_000 }, (_, i) => ({ type: 'stop' as const, reason: `r${i}` }));
    await t.redis.rpush(keys.workerTasks(b.workerId), ...backlog.map((m) => JSON.stringify(m)));
    const delivered: unknown[] = [];
    for (let beats = 0; beats < 1_000; beats++) {
      const res = await sender.beat(b);
      expect(res.outcome).toBe('ok');
      if (!res.controls.length) break;
      delivered.push(...res.controls);
    }
    expect(delivered).toEqual(backlog);
    expect(await t.redis.exists(keys.workerTasks(b.workerId))).toBe(0);
  });

  it('one connection serves several senders (the script is defined once)', async () => {
    const other = new RedisHeartbeatSender(t.redis, keys);
    const b = beat();
    await liveness.publishTokenState(b.tokenId, { revoked: false, expiresAt: null });
    expect((await other.beat(b)).outcome).toBe('ok');
    expect((await sender.beat(b)).outcome).toBe('ok');
  });
});
