import type { WorkerScheduling, WorkerStatus } from '@agentfleet/contracts';

/**
 * Worker liveness state machine (PostgreSQL `workers.status`):
 *   register        → online   (from any state, same instance id)
 *   heartbeat       → online   (from lost: the worker came back)
 *   grace exceeded  → lost     (from online, by the leader's reaper)
 *   deregister      → offline  (from online or lost; SIGTERM)
 *   token revoked   → offline  (from any)
 */
export type WorkerLivenessEvent =
  'register' | 'heartbeat' | 'grace_exceeded' | 'deregister' | 'token_revoked';

const TRANSITIONS: Record<WorkerLivenessEvent, { from: readonly WorkerStatus[]; to: WorkerStatus }> = {
  register: { from: ['online', 'lost', 'offline'], to: 'online' },
  heartbeat: { from: ['lost'], to: 'online' },
  grace_exceeded: { from: ['online'], to: 'lost' },
  deregister: { from: ['online', 'lost'], to: 'offline' },
  token_revoked: { from: ['online', 'lost', 'offline'], to: 'offline' },
};

/** The statuses an event may leave from and the one it leads to; used as the WHERE of a conditional update. */
export function livenessTransition(event: WorkerLivenessEvent): {
  from: readonly WorkerStatus[];
  to: WorkerStatus;
} {
  return TRANSITIONS[event];
}

export function nextLiveness(current: WorkerStatus, event: WorkerLivenessEvent): WorkerStatus | undefined {
  const t = TRANSITIONS[event];
  return t.from.includes(current) ? t.to : undefined;
}

/** Scheduling: operator's wish, orthogonal to liveness. Drain and cordon both stop new work. */
export type SchedulingCommand = 'drain' | 'cordon' | 'uncordon';
export function nextScheduling(current: WorkerScheduling, command: SchedulingCommand): WorkerScheduling {
  switch (command) {
    case 'drain':
      return 'draining';
    case 'cordon':
      // cordoning a draining worker keeps it draining: draining already implies no new work
      return current === 'draining' ? 'draining' : 'cordoned';
    case 'uncordon':
      return 'active';
  }
}

export function acceptsNewWork(status: WorkerStatus, scheduling: WorkerScheduling): boolean {
  return status === 'online' && scheduling === 'active';
}

/**
 * Queue a pool's execution jobs go to (ARCHITECTURE.md §4 writes `execution:{pool}`; BullMQ forbids ':'
 * in queue names, so the separator is '-').
 */
export function executionQueueName(pool: string): string {
  return `execution-${pool}`;
}

/** The queues a worker with these capabilities and pools consumes. */
export function queuesFor(capabilities: readonly string[], pools: readonly string[]): string[] {
  const queues: string[] = [];
  if (capabilities.includes('execute')) queues.push(...pools.map(executionQueueName));
  if (capabilities.includes('supervise')) queues.push('supervise');
  if (capabilities.includes('ingest')) queues.push('ingestion');
  return queues;
}
