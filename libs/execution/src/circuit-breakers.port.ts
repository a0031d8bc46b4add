import type { BreakerOptions } from '@agentfleet/contracts';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** A target's breaker options and when they last changed (ms); no revision = take them as they come. */
export type RevisedBreakerOptions = BreakerOptions & { revision?: number | undefined };

/** Raised instead of calling a target whose breaker is open. */
export class BreakerOpenError extends Error {
  constructor(readonly targetId: string) {
    super(`circuit breaker of target ${targetId} is open`);
    this.name = 'BreakerOpenError';
  }
}

/** Port: one circuit breaker per execution target (and later per LLM provider / connector endpoint). */
export interface CircuitBreakers {
  /**
   * Runs `fn` through the breaker of `key`; counts its failure; throws BreakerOpenError when open. The
   * breaker takes `options` when they are of a newer revision than the ones it has.
   */
  fire<T>(key: string, options: RevisedBreakerOptions, fn: () => Promise<T>): Promise<T>;
  state(key: string): BreakerState;
  states(): Record<string, BreakerState>;
  reset(key: string): void;
}
