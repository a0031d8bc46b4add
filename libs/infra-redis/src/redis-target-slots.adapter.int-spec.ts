import { createTestRedis, type TestRedis, waitFor } from '@agentfleet/testing';
import { randomUUID } from 'node:crypto';
import { RedisKeys } from './redis-keys';
import { turnOrder } from '@agentfleet/execution';
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

  const WAIT = 30_000;
  /** A slot request in turn: `order` is the holder's place in line (lower goes first). */
  const take = (holder: string, order: number, max: number, ttlMs = TTL, waitTtlMs = WAIT) =>
    slots.acquireInTurn(target, holder, max, ttlMs, { order, waitTtlMs });
  const TAKEN = { taken: true };

  it('grants at most `max` holders; the next one is refused', async () => {
    const got = [];
    for (const [i, h] of ['j1:a1', 'j2:a1', 'j3:a1', 'j4:a1'].entries()) got.push(await take(h, i + 1, 3));
    expect(got).toEqual([TAKEN, TAKEN, TAKEN, { taken: false, ahead: 0 }]);
    expect(await slots.count(target)).toBe(3);
  });

  it('counts the same holder once: an attempt delivered again keeps its one slot', async () => {
    expect(await take('j1:a1', 1, 2)).toEqual(TAKEN);
    expect(await take('j1:a1', 1, 2)).toEqual(TAKEN);
    expect(await slots.count(target)).toBe(1);
    expect(await take('j2:a1', 2, 2)).toEqual(TAKEN);
    // a full target still answers yes to a holder that is in it (and extends its lease)
    expect(await take('j1:a1', 1, 2)).toEqual(TAKEN);
    expect(await take('j3:a1', 3, 2)).toEqual({ taken: false, ahead: 0 });
    // even when others wait before it in line
    expect(await take('j1:a1', 9, 2)).toEqual(TAKEN);
    expect(await slots.count(target)).toBe(2);
  });

  it('frees the slot of a lease that ran out (its worker died and stopped renewing)', async () => {
    expect(await take('dead:a1', 1, 1, 200)).toEqual(TAKEN);
    expect(await take('live:a1', 2, 1)).toEqual({ taken: false, ahead: 0 });
    await waitFor(async () => (await take('live:a1', 2, 1)).taken, {
      timeoutMs: 5000,
      intervalMs: 50,
      what: 'the expired lease to free its slot',
    });
    expect(await slots.count(target)).toBe(1);
    // the dead holder cannot come back by renewing: its slot is someone else's now
    expect(await slots.renew(target, 'dead:a1', 1, TTL)).toBe('full');
    expect(await slots.count(target)).toBe(1);
  });

  it('frees the slot on release; releasing twice or a holder without a slot is harmless', async () => {
    await take('j1:a1', 1, 1);
    await slots.release(target, 'j1:a1');
    await slots.release(target, 'j1:a1');
    await slots.release(target, 'never:a1');
    expect(await slots.count(target)).toBe(0);
    expect(await take('j2:a1', 2, 1)).toEqual(TAKEN);
  });

  it('renews a held lease (pushing its expiry out); a lapsed one is taken again only if the target has room', async () => {
    await take('j1:a1', 1, 1, 1000);
    const key = keys.targetSlots(target);
    const before = Number(await t.redis.zscore(key, 'j1:a1'));
    expect(await slots.renew(target, 'j1:a1', 1, TTL)).toBe('renewed');
    expect(Number(await t.redis.zscore(key, 'j1:a1'))).toBeGreaterThan(before + 20_000);
    await slots.release(target, 'j1:a1'); // as if it had lapsed
    await take('j2:a1', 2, 1);
    expect(await slots.renew(target, 'j1:a1', 1, TTL)).toBe('full');
    // a refused renewal adds nothing: no lease, no place in line
    expect(await t.redis.zscore(key, 'j1:a1')).toBeNull();
    expect(await t.redis.zscore(keys.targetWaiting(target), 'j1:a1')).toBeNull();
    expect(await slots.renew(target, 'j1:a1', 2, TTL)).toBe('retaken');
    expect(await slots.count(target)).toBe(2);
  });

  it('keeps the key only a little longer than its longest lease, so an idle target leaves nothing behind', async () => {
    const key = keys.targetSlots(target);
    await take('long:a1', 1, 5);
    await take('short:a1', 2, 5, 500);
    const pttl = await t.redis.pttl(key);
    // the longer lease decides, not the last one taken
    expect(pttl).toBeGreaterThan(TTL - 1000);
    expect(pttl).toBeLessThanOrEqual(TTL + 1000);
    await slots.release(target, 'long:a1');
    await slots.release(target, 'short:a1');
    expect(await t.redis.exists(key)).toBe(0);
  });

  it('keeps the keys of the line only a little longer than its last place', async () => {
    await take('running:a1', 1, 1);
    expect(await take('waiter:a1', 2, 1, TTL, 500)).toEqual({ taken: false, ahead: 0 });
    for (const key of [keys.targetWaiting(target), keys.targetWaitingUntil(target)]) {
      const pttl = await t.redis.pttl(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(1500);
    }
  });

  it('gives exactly `max` of 50 parallel acquires a slot', async () => {
    // a connection each, so the scripts really race in Redis rather than queue on one socket
    const racers = Array.from({ length: 10 }, () => t.redis.duplicate());
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          new RedisTargetSlots(racers[i % racers.length]!, keys).acquireInTurn(target, `j${i}:a1`, 5, TTL, {
            order: i,
            waitTtlMs: WAIT,
          }),
        ),
      );
      expect(results.filter((r) => r.taken)).toHaveLength(5);
      expect(await slots.count(target)).toBe(5);
      // the others wait in line, each once
      expect(await t.redis.zcard(keys.targetWaiting(target))).toBe(45);
    } finally {
      await Promise.all(racers.map((r) => r.quit()));
    }
  });

  it('keeps targets apart', async () => {
    const other = randomUUID();
    expect(await take('j1:a1', 1, 1)).toEqual(TAKEN);
    expect(await slots.acquireInTurn(other, 'j2:a1', 1, TTL, { order: 2, waitTtlMs: WAIT })).toEqual(TAKEN);
    expect(await slots.count(target)).toBe(1);
    expect(await slots.count(other)).toBe(1);
  });

  it('gives a running container its lapsed lease back ahead of whoever waits in line', async () => {
    expect(await take('running:a1', 0, 1)).toEqual(TAKEN);
    expect(await take('waiter:a1', 0, 1)).toEqual({ taken: false, ahead: 0 });
    await slots.release(target, 'running:a1'); // its lease lapsed
    expect(await slots.renew(target, 'running:a1', 1, TTL)).toBe('retaken');
    expect(await take('waiter:a1', 0, 1)).toEqual({ taken: false, ahead: 0 });
  });

  describe('in turn', () => {
    const inTurn = (holder: string, order: number, max = 1, waitTtlMs = WAIT) =>
      slots.acquireInTurn(target, holder, max, TTL, { order, waitTtlMs });

    it('hands a freed slot to the earliest waiting, then the next; a later arrival waits behind them', async () => {
      expect(await inTurn('running:a1', 5)).toEqual({ taken: true });
      expect(await inTurn('first:a1', 10)).toEqual({ taken: false, ahead: 0 });
      expect(await inTurn('second:a1', 20)).toEqual({ taken: false, ahead: 1 });
      await slots.release(target, 'running:a1');
      // a newcomer and the second in line ask first: the slot is the first one's
      expect(await inTurn('newcomer:a1', 30)).toEqual({ taken: false, ahead: 2 });
      expect(await inTurn('second:a1', 20)).toEqual({ taken: false, ahead: 1 });
      expect(await inTurn('first:a1', 10)).toEqual({ taken: true });
      await slots.release(target, 'first:a1');
      expect(await inTurn('newcomer:a1', 30)).toEqual({ taken: false, ahead: 1 });
      expect(await inTurn('second:a1', 20)).toEqual({ taken: true });
    });

    it('lets a higher priority go before those waiting at a lower one', async () => {
      await inTurn('running:a1', 0);
      await inTurn('low-early:a1', turnOrder(100, 1_000));
      await inTurn('low-late:a1', turnOrder(100, 2_000));
      expect(await inTurn('urgent:a1', turnOrder(1, 3_000))).toEqual({ taken: false, ahead: 0 });
      await slots.release(target, 'running:a1');
      expect(await inTurn('low-early:a1', turnOrder(100, 1_000))).toEqual({ taken: false, ahead: 1 });
      expect(await inTurn('urgent:a1', turnOrder(1, 3_000))).toEqual({ taken: true });
    });

    it('fills as many free slots as there are, in line order', async () => {
      await inTurn('a:a1', 1, 2);
      await inTurn('b:a1', 2, 2);
      expect(await inTurn('c:a1', 3, 2)).toEqual({ taken: false, ahead: 0 });
      expect(await inTurn('d:a1', 4, 2)).toEqual({ taken: false, ahead: 1 });
      await slots.release(target, 'a:a1');
      await slots.release(target, 'b:a1');
      // two free: the first two in line may both start, in either order
      expect(await inTurn('d:a1', 4, 2)).toEqual({ taken: true });
      expect(await inTurn('c:a1', 3, 2)).toEqual({ taken: true });
    });

    it('drops a place that was not asked for again within its wait ttl', async () => {
      await inTurn('running:a1', 0);
      await inTurn('gone:a1', 1, 1, 200); // cancelled while deferred: it never asks again
      expect(await inTurn('next:a1', 2)).toEqual({ taken: false, ahead: 1 });
      await slots.release(target, 'running:a1');
      await new Promise((r) => setTimeout(r, 300));
      expect(await inTurn('next:a1', 2)).toEqual({ taken: true });
    });

    it('leaves its places on the given targets', async () => {
      const other = randomUUID();
      await inTurn('running:a1', 0);
      await slots.acquireInTurn(other, 'busy:a1', 1, TTL, { order: 0, waitTtlMs: WAIT });
      await inTurn('waiter:a1', 1);
      await slots.acquireInTurn(other, 'waiter:a1', 1, TTL, { order: 1, waitTtlMs: WAIT });
      await slots.leaveTurns([target, other], 'waiter:a1');
      expect(await inTurn('next:a1', 2)).toEqual({ taken: false, ahead: 0 });
      expect(await t.redis.zcard(keys.targetWaiting(other))).toBe(0);
    });

    it('keeps a holder that already has the slot (a redelivered attempt) without a place', async () => {
      expect(await inTurn('j:a1', 1)).toEqual({ taken: true });
      expect(await inTurn('j:a1', 1)).toEqual({ taken: true });
      expect(await slots.count(target)).toBe(1);
      expect(await t.redis.zcard(keys.targetWaiting(target))).toBe(0);
    });
  });
});
