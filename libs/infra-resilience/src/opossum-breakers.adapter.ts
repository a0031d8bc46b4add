import type { BreakerOptions } from '@agentfleet/contracts';
import { BreakerOpenError, type BreakerState, type CircuitBreakers } from '@agentfleet/execution';
import CircuitBreaker from 'opossum';

/**
 * One opossum breaker per key (an execution target id), created with that target's options. The
 * breaker wraps a pass-through action so any call can be fired through it. State changes are reported
 * (logs, metrics, the admin API).
 */
export class OpossumBreakers implements CircuitBreakers {
  private readonly breakers = new Map<string, CircuitBreaker<[() => Promise<unknown>], unknown>>();

  constructor(private readonly onStateChange?: (key: string, state: BreakerState) => void) {}

  private breaker(key: string, o: BreakerOptions) {
    let b = this.breakers.get(key);
    if (!b) {
      b = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
        timeout: false, // runs last as long as their jobs; deadlines are the runtime's business
        errorThresholdPercentage: o.error_threshold_percentage,
        volumeThreshold: o.volume_threshold,
        resetTimeout: o.reset_timeout_ms,
        rollingCountTimeout: o.rolling_window_ms,
        rollingCountBuckets: 10,
      });
      const report = (s: BreakerState) => () => this.onStateChange?.(key, s);
      b.on('open', report('open'));
      b.on('halfOpen', report('half_open'));
      b.on('close', report('closed'));
      this.breakers.set(key, b);
    }
    return b;
  }

  async fire<T>(key: string, options: BreakerOptions, fn: () => Promise<T>): Promise<T> {
    const b = this.breaker(key, options);
    try {
      return (await b.fire(fn)) as T;
    } catch (e) {
      if (e instanceof Error && (e as Error & { code?: string }).code === 'EOPENBREAKER')
        throw new BreakerOpenError(key);
      throw e;
    }
  }

  state(key: string): BreakerState {
    const b = this.breakers.get(key);
    if (!b) return 'closed';
    return b.opened ? 'open' : b.halfOpen ? 'half_open' : 'closed';
  }

  states(): Record<string, BreakerState> {
    return Object.fromEntries([...this.breakers.keys()].map((k) => [k, this.state(k)]));
  }

  reset(key: string): void {
    this.breakers.get(key)?.close();
  }

  shutdown(): void {
    for (const b of this.breakers.values()) b.shutdown();
  }
}
