import { createTestRedis, type TestRedis, waitFor } from '@agentfleet/testing';
import { RedisKeys } from './redis-keys';
import { RedisLeaderLock } from './redis-leader-lock.adapter';

describe('RedisLeaderLock', () => {
  let t: TestRedis;
  let key: string;

  beforeEach(() => {
    t = createTestRedis();
    key = new RedisKeys(t.prefix).leader('reaper');
  });
  afterEach(() => t.cleanup());

  const lock = (holder: string, ttlMs = 30_000) => new RedisLeaderLock(t.redis, key, holder, ttlMs);

  it('of two contenders only one holds the lock, and the holder is recorded', async () => {
    const [a, b] = [lock('a'), lock('b')];
    expect(await a.acquireOrRenew()).toBe(true);
    expect(await b.acquireOrRenew()).toBe(false);
    expect(await b.currentHolder()).toBe('a');
  });

  it('of many contenders racing at once exactly one wins', async () => {
    const locks = Array.from({ length: 10 }, (_, i) => lock(`replica-${i}`));
    const won = await Promise.all(locks.map((l) => l.acquireOrRenew()));
    expect(won.filter(Boolean)).toHaveLength(1);
    const winner = locks[won.indexOf(true)]!;
    expect(await t.redis.get(key)).toBe(winner.holderId);
  });

  it('renewing keeps the lock and pushes its expiry out', async () => {
    const a = lock('a', 10_000);
    expect(await a.acquireOrRenew()).toBe(true);
    await t.redis.pexpire(key, 500); // as if most of the TTL had passed
    expect(await a.acquireOrRenew()).toBe(true);
    expect(await t.redis.pttl(key)).toBeGreaterThan(500);
    expect(await lock('b').acquireOrRenew()).toBe(false);
  });

  it('the other contender takes over after the holder releases', async () => {
    const [a, b] = [lock('a'), lock('b')];
    await a.acquireOrRenew();
    await a.release();
    expect(await t.redis.exists(key)).toBe(0);
    expect(await b.acquireOrRenew()).toBe(true);
    // the old holder is now a follower
    expect(await a.acquireOrRenew()).toBe(false);
  });

  it("release by a non-holder leaves the holder's lock alone", async () => {
    const [a, b] = [lock('a'), lock('b')];
    await a.acquireOrRenew();
    await b.release();
    expect(await a.currentHolder()).toBe('a');
    expect(await a.acquireOrRenew()).toBe(true);
  });

  it('a holder that stops renewing loses the lock after its TTL, and cannot renew afterwards', async () => {
    const a = lock('a', 300);
    const b = lock('b', 30_000);
    expect(await a.acquireOrRenew()).toBe(true);
    await waitFor(() => b.acquireOrRenew(), {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: 'b to take over after the TTL',
    });
    expect(await a.acquireOrRenew()).toBe(false);
    expect(await b.currentHolder()).toBe('b');
  });

  it("release after losing the lock does not delete the new holder's lock", async () => {
    const a = lock('a', 200);
    const b = lock('b', 30_000);
    await a.acquireOrRenew();
    await waitFor(() => b.acquireOrRenew(), { timeoutMs: 15_000, what: 'b to take over' });
    await a.release();
    expect(await b.currentHolder()).toBe('b');
  });

  it('reads the holder and the time left on the lock, without taking it', async () => {
    const reader = lock('reader');
    expect(await reader.state()).toEqual({ holderId: null, ttlMs: null });
    await lock('a', 10_000).acquireOrRenew();
    const state = await reader.state();
    expect(state.holderId).toBe('a');
    expect(state.ttlMs).toBeGreaterThan(9_000);
    expect(state.ttlMs).toBeLessThanOrEqual(10_000);
    // a key written by hand without an expiry never goes away on its own
    await t.redis.persist(key);
    expect(await reader.state()).toEqual({ holderId: 'a', ttlMs: null });
  });
});
