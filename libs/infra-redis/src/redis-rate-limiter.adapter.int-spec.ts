import { createTestRedis, type TestRedis } from '@agentfleet/testing';
import { RedisKeys } from './redis-keys';
import { RedisRateLimiter } from './redis-rate-limiter.adapter';

const HOUR_MS = 3_600_000;
/** 10 minutes into an hour window: 50 minutes remain. */
const T = Date.UTC(2030, 0, 1, 12, 10, 0);

describe('RedisRateLimiter', () => {
  let t: TestRedis;
  let keys: RedisKeys;
  let now: number;
  let limiter: RedisRateLimiter;

  beforeEach(() => {
    t = createTestRedis();
    keys = new RedisKeys(t.prefix);
    now = T;
    limiter = new RedisRateLimiter(t.redis, keys, () => now);
  });
  afterEach(() => t.cleanup());

  it('allows N requests in a window and refuses the next with the seconds until the window ends', async () => {
    for (let i = 0; i < 3; i++) expect((await limiter.hit('api-key:a', 3)).allowed).toBe(true);
    const refused = await limiter.hit('api-key:a', 3);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused.retryAfterSeconds).toBe(50 * 60);
    // refusals keep being refused
    expect((await limiter.hit('api-key:a', 3)).allowed).toBe(false);
  });

  it('counts each key on its own', async () => {
    expect((await limiter.hit('api-key:a', 1)).allowed).toBe(true);
    expect((await limiter.hit('api-key:a', 1)).allowed).toBe(false);
    expect((await limiter.hit('api-key:b', 1)).allowed).toBe(true);
  });

  it('starts a fresh count in the next hour window', async () => {
    expect((await limiter.hit('k', 1)).allowed).toBe(true);
    expect((await limiter.hit('k', 1)).allowed).toBe(false);
    now = T + 50 * 60_000; // the first millisecond of the next window
    const next = await limiter.hit('k', 1);
    expect(next).toEqual({ allowed: true, retryAfterSeconds: 3600 });
  });

  it('retryAfterSeconds is never 0 at the very end of a window', async () => {
    now = Math.floor(T / HOUR_MS) * HOUR_MS + HOUR_MS - 1; // last millisecond of the window
    await limiter.hit('k', 0);
    const res = await limiter.hit('k', 0);
    expect(res.allowed).toBe(false);
    expect(res.retryAfterSeconds).toBe(1);
  });

  it('concurrent hits never let more than the limit through', async () => {
    const results = await Promise.all(Array.from({ length: 25 }, () => limiter.hit('burst', 10)));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect(await t.redis.get(keys.rateLimit('burst', Math.floor(T / HOUR_MS)))).toBe('25');
  });

  it('the counter expires shortly after its window ends', async () => {
    await limiter.hit('k', 5);
    const pttl = await t.redis.pttl(keys.rateLimit('k', Math.floor(T / HOUR_MS)));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(HOUR_MS + 60_000);
  });
});
