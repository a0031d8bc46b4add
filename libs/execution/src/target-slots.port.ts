/** What keeping a lease found: still held, lapsed and taken again, or lapsed with the target full. */
export type LeaseRenewal = 'renewed' | 'retaken' | 'full';

/**
 * Fleet-wide slots of execution targets (`capacity.max_concurrent`): leases that every worker of every
 * pool takes from one shared store before it starts a container on a target. A lease expires unless
 * renewed, so the slots of a worker that died come back on their own.
 *
 * `holder` names one attempt (`<job id>:a<attempt>`): taking a slot twice for the same holder keeps one.
 */
export interface TargetSlots {
  /**
   * Takes (or extends) a slot in turn, the only way to take one: if `holder` holds one already, or if
   * fewer attempts wait before it than there are free slots (`max` less the live leases). Those before
   * it have a lower `order` (a higher priority, or the same one and queued earlier). Otherwise `holder`
   * takes (or keeps) its place among the waiting for `waitTtlMs` and learns how many wait before it. So
   * a freed slot goes to the attempt that has waited longest, not to whoever asks first.
   */
  acquireInTurn(
    targetId: string,
    holder: string,
    max: number,
    ttlMs: number,
    turn: { order: number; waitTtlMs: number },
  ): Promise<{ taken: true } | { taken: false; ahead: number }>;
  /** Gives up `holder`'s places among the waiting of these targets (it started elsewhere, or ended). */
  leaveTurns(targetIds: readonly string[], holder: string): Promise<void>;
  /**
   * Keeps the lease of a running container: pushes its expiry out (`renewed`). If it lapsed (renewals
   * failed past its TTL, and another attempt may have its slot now), takes a slot again when the target
   * has one free (`retaken`), ahead of every waiting attempt, since the container runs already; else
   * `full`, and nothing is added (no place in line either).
   */
  renew(targetId: string, holder: string, max: number, ttlMs: number): Promise<LeaseRenewal>;
  /** Gives the slot back; a no-op for a holder that has none. */
  release(targetId: string, holder: string): Promise<void>;
  /** Live leases of a target right now. */
  count(targetId: string): Promise<number>;
}

/** The lease holder of one attempt: the same attempt delivered again is the same holder. */
export function slotHolder(jobId: string, attempt: number): string {
  return `${jobId}:a${attempt}`;
}

/** BullMQ priorities go up to 2^21; ages in ms since the epoch fit in 2^42 for another century. */
const AGE_RANGE = 2 ** 42;

/**
 * The place of an attempt among those waiting for a slot: its job's priority first (lower runs first,
 * as in BullMQ), then when its queue entry was made. Stable across deferrals, so a deferred attempt
 * keeps its place; an exact integer (below 2^53) for Redis's double scores.
 */
export function turnOrder(priority: number, enqueuedAtMs: number): number {
  return Math.max(0, Math.min(priority, 2 ** 10)) * AGE_RANGE + (Math.max(0, enqueuedAtMs) % AGE_RANGE);
}
