import type { BreakerOptions } from '@agentfleet/contracts';
import { BreakerOpenError, type BreakerState } from '@agentfleet/execution';
import { OpossumBreakers } from './opossum-breakers.adapter';

const options = (over: Partial<BreakerOptions> = {}): BreakerOptions => ({
  error_threshold_percentage: 50,
  volume_threshold: 4,
  reset_timeout_ms: 60_000,
  rolling_window_ms: 10_000,
  ...over,
});
const fail = () => Promise.reject(new Error('target unreachable'));
const ok = () => Promise.resolve('ok');

async function failures(b: OpossumBreakers, o: BreakerOptions, n: number) {
  for (let i = 0; i < n; i++) await b.fire('t', o, fail).catch(() => undefined);
}

describe('OpossumBreakers', () => {
  let breakers: OpossumBreakers;
  let changes: [string, BreakerState][];
  beforeEach(() => {
    changes = [];
    breakers = new OpossumBreakers((k, s) => changes.push([k, s]));
  });
  afterEach(() => breakers.shutdown());

  it('opens at the volume threshold and then refuses calls with BreakerOpenError', async () => {
    await failures(breakers, options(), 3);
    expect(breakers.state('t')).toBe('closed');
    await failures(breakers, options(), 1);
    expect(breakers.state('t')).toBe('open');
    await expect(breakers.fire('t', options(), ok)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(changes).toEqual([['t', 'open']]);
  });

  it('applies changed options with the next call (a lower threshold opens sooner), without a restart', async () => {
    await failures(breakers, options({ volume_threshold: 10 }), 3);
    expect(breakers.state('t')).toBe('closed');
    await failures(breakers, options({ volume_threshold: 2 }), 2);
    expect(breakers.state('t')).toBe('open');
  });

  it('ignores options of an older revision (a job queued before the change brings the old ones)', async () => {
    const changed = { ...options({ volume_threshold: 2 }), revision: 2000 };
    const before = { ...options({ volume_threshold: 10 }), revision: 1000 };
    await failures(breakers, changed, 1);
    await failures(breakers, before, 1);
    expect(breakers.state('t')).toBe('open'); // the second failure still counted under volume_threshold 2
  });

  it('keeps an open breaker open when its options change, and reports no transition for the swap', async () => {
    await failures(breakers, options(), 4);
    expect(breakers.state('t')).toBe('open');
    await expect(breakers.fire('t', options({ volume_threshold: 10 }), ok)).rejects.toBeInstanceOf(
      BreakerOpenError,
    );
    expect(breakers.state('t')).toBe('open');
    expect(changes).toEqual([['t', 'open']]);
  });

  it('comes back half-open when the new options say the open period is over, and says so', async () => {
    await failures(breakers, options(), 4);
    await new Promise((r) => setTimeout(r, 30));
    expect(await breakers.fire('t', options({ reset_timeout_ms: 10 }), ok)).toBe('ok');
    expect(changes.map(([, s]) => s)).toEqual(['open', 'half_open', 'closed']);
    expect(breakers.state('t')).toBe('closed');
  });

  it('keeps the same breaker (and its rolling counts) while the options stay the same', async () => {
    await failures(breakers, options(), 2);
    await failures(breakers, { ...options() }, 2);
    expect(breakers.state('t')).toBe('open');
  });

  it('resets an open breaker to closed on request (admin API)', async () => {
    await failures(breakers, options(), 4);
    breakers.reset('t');
    expect(breakers.state('t')).toBe('closed');
    expect(await breakers.fire('t', options(), ok)).toBe('ok');
  });
});
