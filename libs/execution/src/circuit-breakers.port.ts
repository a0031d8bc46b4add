import type { BreakerOptions } from '@agentfleet/contracts';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Raised instead of calling a target whose breaker is open. */
export class BreakerOpenError extends Error {
  constructor(readonly targetId: string) {
    super(`circuit breaker of target ${targetId} is open`);
    this.name = 'BreakerOpenError';
  }
}

/** Port: one circuit breaker per execution target (and later per LLM provider / connector endpoint). */
export interface CircuitBreakers {
  /** Runs `fn` through the breaker of `key`; counts its failure; throws BreakerOpenError when open. */
  fire<T>(key: string, options: BreakerOptions, fn: () => Promise<T>): Promise<T>;
  state(key: string): BreakerState;
  states(): Record<string, BreakerState>;
  reset(key: string): void;
}
