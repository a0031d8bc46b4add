import { turnOrder } from './target-slots.port';

describe('turnOrder (the place of an attempt waiting for a full target)', () => {
  it('puts a higher priority (a lower number) first, however late it was queued', () => {
    expect(turnOrder(1, Date.parse('2030-01-01'))).toBeLessThan(turnOrder(2, Date.parse('2020-01-01')));
  });

  it('puts the one queued earlier first within a priority', () => {
    expect(turnOrder(100, 1_000)).toBeLessThan(turnOrder(100, 1_001));
  });

  it('stays an exact integer for the largest priority and a date a century ahead (Redis scores are doubles)', () => {
    const o = turnOrder(1000, Date.parse('2126-01-01'));
    expect(Number.isSafeInteger(o)).toBe(true);
    expect(o + 1).toBeGreaterThan(o);
  });
});
