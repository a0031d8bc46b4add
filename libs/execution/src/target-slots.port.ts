/**
 * Fleet-wide slots of execution targets (`capacity.max_concurrent`): leases that every worker of every
 * pool takes from one shared store before it starts a container on a target. A lease expires unless
 * renewed, so the slots of a worker that died come back on their own.
 *
 * `holder` names one attempt (`<job id>:a<attempt>`): taking a slot twice for the same holder keeps one.
 */
export interface TargetSlots {
  /** Takes (or extends) a slot for `holder` if fewer than `max` live leases exist; false when full. */
  acquire(targetId: string, holder: string, max: number, ttlMs: number): Promise<boolean>;
  /** Pushes the lease's expiry out; false when `holder` no longer holds a slot (expired or released). */
  renew(targetId: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the slot back; a no-op for a holder that has none. */
  release(targetId: string, holder: string): Promise<void>;
  /** Live leases of a target right now. */
  count(targetId: string): Promise<number>;
}

/** The lease holder of one attempt: the same attempt delivered again is the same holder. */
export function slotHolder(jobId: string, attempt: number): string {
  return `${jobId}:a${attempt}`;
}
