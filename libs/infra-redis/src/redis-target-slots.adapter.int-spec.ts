import { createTestRedis, type TestRedis, waitFor } from '@agentfleet/testing';
import { randomUUID } from 'node:crypto';
import { RedisKeys } from './redis-keys';
import { RedisTargetSlots } from './redis-target-slots.adapter';

describe('RedisTargetSlots (real Redis)', () => {
  let t: TestRedis;
  let slots: RedisTargetSlots;
  let keys: RedisKeys;
  let target: string;
  const TTL = 30_000;

  beforeEach(() => {
    t = createTestRedis();
    keys = new RedisKeys(t.prefix);
    slots = new RedisTargetSlots(t.redis, keys);
    target = randomUUID();
  });
  afterEach(() => t.cleanup());

  it('grants at most `max` holders; the next one is refused', async () => {
    const got = [];
    for (const h of ['j1:a1', 'j2:a1', 'j3:a1', 'j4:a1']) got.push(await slots.acquire(target, h, 3, TTL));
    expect(got).toEqual([true, true, true, false]);
    expect(await slots.count(target)).toBe(3);
  });

  it('counts the same holder once: an attempt delivered again keeps its one slot', async () => {
    expect(await slots.acquire(target, 'j1:a1', 2, TTL)).toBe(true);
    expect(await slots.acquire(target, 'j1:a1', 2, TTL)).toBe(true);
    expect(await slots.count(target)).toBe(1);
    expect(await slots.acquire(target, 'j2:a1', 2, TTL)).toBe(true);
    // a full target still answers yes to a holder that is in it (and extends its lease)
    expect(await slots.acquire(target, 'j1:a1', 2, TTL)).toBe(true);
    expect(await slots.acquire(target, 'j3:a1', 2, TTL)).toBe(false);
  });

  it('frees the slot of a lease that ran out (its worker died and stopped renewing)', async () => {
    expect(await slots.acquire(target, 'dead:a1', 1, 200)).toBe(true);
    expect(await slots.acquire(target, 'live:a1', 1, TTL)).toBe(false);
    await waitFor(() => slots.acquire(target, 'live:a1', 1, TTL), {
      timeoutMs: 5000,
      intervalMs: 50,
      what: 'the expired lease to free its slot',
    });
    expect(await slots.count(target)).toBe(1);
    // the dead holder cannot come back by renewing: its slot is someone else's now
    expect(await slots.renew(target, 'dead:a1', TTL)).toBe(false);
  });

  it('frees the slot on release; releasing twice or a holder without a slot is harmless', async () => {
    await slots.acquire(target, 'j1:a1', 1, TTL);
    await slots.release(target, 'j1:a1');
    await slots.release(target, 'j1:a1');
    await slots.release(target, 'never:a1');
    expect(await slots.count(target)).toBe(0);
    expect(await slots.acquire(target, 'j2:a1', 1, TTL)).toBe(true);
  });

  it('renews a held lease (pushing its expiry out) and refuses to renew a released one', async () => {
    await slots.acquire(target, 'j1:a1', 1, 1000);
    const key = keys.targetSlots(target);
    const before = Number(await t.redis.zscore(key, 'j1:a1'));
    expect(await slots.renew(target, 'j1:a1', TTL)).toBe(true);
    expect(Number(await t.redis.zscore(key, 'j1:a1'))).toBeGreaterThan(before + 20_000);
    await slots.release(target, 'j1:a1');
    expect(await slots.renew(target, 'j1:a1', TTL)).toBe(false);
    // a refused renewal adds nothing
    expect(await t.redis.zscore(key, 'j1:a1')).toBeNull();
  });

  it('keeps the key only a little longer than its longest lease, so an idle target leaves nothing behind', async () => {
    const key = keys.targetSlots(target);
    await slots.acquire(target, 'long:a1', 5, TTL);
    await slots.acquire(target, 'short:a1', 5, 500);
    const pttl = await t.redis.pttl(key);
    // the longer lease decides, not the last one taken
    expect(pttl).toBeGreaterThan(TTL - 1000);
    expect(pttl).toBeLessThanOrEqual(TTL + 1000);
    await slots.release(target, 'long:a1');
    await slots.release(target, 'short:a1');
    expect(await t.redis.exists(key)).toBe(0);
  });

  it('gives exactly `max` of 50 parallel acquires a slot', async () => {
    // a connection each, so the scripts really race in Redis rather than queue on one socket
    const racers = Array.from({ length: 10 }, () => t.redis.duplicate());
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          new RedisTargetSlots(racers[i % racers.length]!, keys).acquire(target, `j${i}:a1`, 5, TTL),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(5);
      expect(await slots.count(target)).toBe(5);
    } finally {
      await Promise.all(racers.map((r) => r.quit()));
    }
  });

  it('keeps targets apart', async () => {
    const other = randomUUID();
    expect(await slots.acquire(target, 'j1:a1', 1, TTL)).toBe(true);
    expect(await slots.acquire(other, 'j2:a1', 1, TTL)).toBe(true);
    expect(await slots.count(target)).toBe(1);
    expect(await slots.count(other)).toBe(1);
  });
});
