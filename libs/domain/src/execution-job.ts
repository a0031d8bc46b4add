import { type ExecutionJobStatus, TERMINAL_JOB_STATUSES } from '@agentfleet/contracts';

/**
 * Execution job state machine (ARCHITECTURE.md §2):
 *   queued → running → (awaiting_approval ⇄ running) → completed | failed | oom | failed_circuit_open | timed_out | cancelled
 * plus `requeue`: a running attempt whose worker died (or that will be retried) goes back to queued with
 * attempt + 1. Every transition is a conditional update on (status, attempt), so a late write from an
 * older attempt matches no row and is dropped.
 */
export type JobTransition =
  'start' | 'request_approval' | 'approve' | 'finish' | 'cancel_queued' | 'fail_circuit_open' | 'requeue';

const FROM: Record<JobTransition, readonly ExecutionJobStatus[]> = {
  start: ['queued'],
  request_approval: ['running'],
  approve: ['awaiting_approval'],
  // a job may end before it started: its target was unreachable or every breaker of its pool open
  finish: ['queued', 'running', 'awaiting_approval'],
  cancel_queued: ['queued'],
  fail_circuit_open: ['queued', 'running'],
  requeue: ['queued', 'running', 'awaiting_approval'],
};

export function transitionFrom(t: JobTransition): readonly ExecutionJobStatus[] {
  return FROM[t];
}

const TERMINAL = new Set<ExecutionJobStatus>(TERMINAL_JOB_STATUSES);
export function isTerminal(s: ExecutionJobStatus): boolean {
  return TERMINAL.has(s);
}

/** What a runtime reported, reduced to what decides the status. */
export interface AttemptOutcome {
  exitCode: number | null;
  oomKilled: boolean;
  timedOut: boolean;
  cancelled: boolean;
}

/** The status an attempt ends in. Order matters: a cancelled job that was then killed is `cancelled`, not `failed`. */
export function statusOf(
  o: AttemptOutcome,
): Extract<ExecutionJobStatus, 'completed' | 'failed' | 'oom' | 'timed_out' | 'cancelled'> {
  if (o.cancelled) return 'cancelled';
  if (o.timedOut) return 'timed_out';
  if (o.oomKilled) return 'oom';
  return o.exitCode === 0 ? 'completed' : 'failed';
}

export interface RetryPolicy {
  maxRetries: number;
  backoffMs: number;
  oomRetry: { enabled: boolean; maxMemoryMb: number | null };
}

export interface RetryState {
  /** Retries already used (failed / timed out). */
  retryCount: number;
  /** Whether the one OOM retry has been used. */
  oomRetried: boolean;
  memoryLimitMb: number;
  /** The target's cap, which the OOM retry never exceeds. */
  targetMaxMemoryMb: number;
}

export type RetryDecision =
  | { retry: false }
  | { retry: true; delayMs: number; memoryLimitMb: number; reason: string; kind: 'failure' | 'oom' };

/**
 * Whether an ended attempt runs again: failures and timeouts up to `maxRetries` with exponential
 * backoff; an OOM once, with double the memory, up to the cap (opt-in). Cancellations never retry.
 */
export function retryDecision(
  status: ExecutionJobStatus,
  policy: RetryPolicy,
  state: RetryState,
): RetryDecision {
  if (status === 'oom') {
    if (!policy.oomRetry.enabled || state.oomRetried) return { retry: false };
    const cap = Math.min(policy.oomRetry.maxMemoryMb ?? state.targetMaxMemoryMb, state.targetMaxMemoryMb);
    const next = Math.min(state.memoryLimitMb * 2, cap);
    if (next <= state.memoryLimitMb) return { retry: false };
    return {
      retry: true,
      delayMs: 0,
      memoryLimitMb: next,
      reason: `oom at ${state.memoryLimitMb} MiB`,
      kind: 'oom',
    };
  }
  if ((status === 'failed' || status === 'timed_out') && state.retryCount < policy.maxRetries) {
    return {
      retry: true,
      delayMs: Math.min(policy.backoffMs * 2 ** state.retryCount, 3_600_000),
      memoryLimitMb: state.memoryLimitMb,
      reason: status,
      kind: 'failure',
    };
  }
  return { retry: false };
}

/** Whether an image is allowed by a target's allow-list: exact names, or prefixes ending in `*`; empty = any. */
export function imageAllowed(image: string, allowList: readonly string[]): boolean {
  if (!allowList.length) return true;
  return allowList.some((p) => (p.endsWith('*') ? image.startsWith(p.slice(0, -1)) : image === p));
}
