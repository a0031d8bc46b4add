import type { BreakerOptions } from '@agentfleet/contracts';
import {
  BreakerOpenError,
  type BreakerState,
  type CircuitBreakers,
  type RevisedBreakerOptions,
} from '@agentfleet/execution';
import CircuitBreaker from 'opossum';

type Breaker = CircuitBreaker<[() => Promise<unknown>], unknown>;

function stateOf(b: Breaker): BreakerState {
  return b.opened ? 'open' : b.halfOpen ? 'half_open' : 'closed';
}

/** The options a breaker was made with, compared to those a call brings. */
function signature(o: BreakerOptions): string {
  return `${o.error_threshold_percentage}/${o.volume_threshold}/${o.reset_timeout_ms}/${o.rolling_window_ms}`;
}

/**
 * One opossum breaker per key (an execution target id), created with that target's options. The
 * breaker wraps a pass-through action so any call can be fired through it. State changes are reported
 * (logs, metrics, the admin API).
 *
 * Options travel with every job (the target's current ones), so an operator's change reaches a running
 * worker with its next job on that target: the breaker is made anew with the new options and the state
 * of the old one (open stays open until its reset timeout, half-open stays half-open); only its
 * rolling counts start afresh.
 */
export class OpossumBreakers implements CircuitBreakers {
  private readonly breakers = new Map<string, { b: Breaker; signature: string; revision: number }>();

  constructor(private readonly onStateChange?: (key: string, state: BreakerState) => void) {}

  private breaker(key: string, o: RevisedBreakerOptions): Breaker {
    const sig = signature(o);
    const revision = o.revision ?? 0;
    const current = this.breakers.get(key);
    // the same options, or older ones (a job queued before the change): the breaker stays as it is
    if (current && (current.signature === sig || revision < current.revision)) return current.b;
    // the old one's state carries over; shut down, it reports nothing more (calls in flight finish)
    const state = current?.b.toJSON().state;
    const before = current && stateOf(current.b);
    current?.b.shutdown();
    const b: Breaker = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
      timeout: false, // runs last as long as their jobs; deadlines are the runtime's business
      errorThresholdPercentage: o.error_threshold_percentage,
      volumeThreshold: o.volume_threshold,
      resetTimeout: o.reset_timeout_ms,
      rollingCountTimeout: o.rolling_window_ms,
      rollingCountBuckets: 10,
      ...(state ? { state: { ...state, shutdown: false } } : {}),
    });
    const report = (s: BreakerState) => () => this.onStateChange?.(key, s);
    b.on('open', report('open'));
    b.on('halfOpen', report('half_open'));
    b.on('close', report('closed'));
    this.breakers.set(key, { b, signature: sig, revision });
    // an open state whose reset timeout passed meanwhile comes back half-open, before the listeners
    if (before && stateOf(b) !== before) this.onStateChange?.(key, stateOf(b));
    return b;
  }

  async fire<T>(key: string, options: RevisedBreakerOptions, fn: () => Promise<T>): Promise<T> {
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
    const b = this.breakers.get(key)?.b;
    return b ? stateOf(b) : 'closed';
  }

  states(): Record<string, BreakerState> {
    return Object.fromEntries([...this.breakers.keys()].map((k) => [k, this.state(k)]));
  }

  reset(key: string): void {
    this.breakers.get(key)?.b.close();
  }

  shutdown(): void {
    for (const { b } of this.breakers.values()) b.shutdown();
  }
}
