import { imageAllowed, isTerminal, retryDecision, statusOf, transitionFrom } from './execution-job';

const policy = { maxRetries: 2, backoffMs: 100, oomRetry: { enabled: true, maxMemoryMb: 512 } };
const state = { retryCount: 0, oomRetried: false, memoryLimitMb: 128, targetMaxMemoryMb: 1024 };

describe('execution job state machine', () => {
  it('only starts a queued job, and finishes only a job that has not ended (also one that never started)', () => {
    expect(transitionFrom('start')).toEqual(['queued']);
    expect(transitionFrom('finish')).toEqual(['queued', 'running', 'awaiting_approval']);
    expect(transitionFrom('cancel_queued')).toEqual(['queued']);
    for (const t of ['finish', 'requeue', 'fail_circuit_open'] as const) {
      for (const s of [
        'completed',
        'failed',
        'oom',
        'failed_circuit_open',
        'timed_out',
        'cancelled',
      ] as const) {
        expect(transitionFrom(t)).not.toContain(s);
      }
    }
  });

  it('treats every end status as terminal and nothing else', () => {
    for (const s of ['completed', 'failed', 'oom', 'failed_circuit_open', 'timed_out', 'cancelled'] as const)
      expect(isTerminal(s)).toBe(true);
    for (const s of ['queued', 'running', 'awaiting_approval'] as const) expect(isTerminal(s)).toBe(false);
  });

  it('decides the status from the evidence: cancel beats timeout beats OOM beats the exit code', () => {
    expect(statusOf({ exitCode: 0, oomKilled: false, timedOut: false, cancelled: false })).toBe('completed');
    expect(statusOf({ exitCode: 1, oomKilled: false, timedOut: false, cancelled: false })).toBe('failed');
    expect(statusOf({ exitCode: 137, oomKilled: true, timedOut: false, cancelled: false })).toBe('oom');
    expect(statusOf({ exitCode: 137, oomKilled: false, timedOut: true, cancelled: false })).toBe('timed_out');
    expect(statusOf({ exitCode: 137, oomKilled: true, timedOut: true, cancelled: true })).toBe('cancelled');
    // a 137 without OOM evidence is a kill, not an OOM
    expect(statusOf({ exitCode: 137, oomKilled: false, timedOut: false, cancelled: false })).toBe('failed');
  });
});

describe('retry policy', () => {
  it('retries a failure with exponential backoff up to the maximum', () => {
    expect(retryDecision('failed', policy, state)).toMatchObject({ retry: true, delayMs: 100 });
    expect(retryDecision('timed_out', policy, { ...state, retryCount: 1 })).toMatchObject({
      retry: true,
      delayMs: 200,
    });
    expect(retryDecision('failed', policy, { ...state, retryCount: 2 })).toEqual({ retry: false });
  });

  it('retries an OOM once with double the memory, capped', () => {
    expect(retryDecision('oom', policy, state)).toMatchObject({
      retry: true,
      memoryLimitMb: 256,
      kind: 'oom',
    });
    expect(retryDecision('oom', policy, { ...state, memoryLimitMb: 400 })).toMatchObject({
      memoryLimitMb: 512,
    });
    expect(retryDecision('oom', policy, { ...state, oomRetried: true })).toEqual({ retry: false });
    expect(retryDecision('oom', policy, { ...state, memoryLimitMb: 512 })).toEqual({ retry: false });
    expect(
      retryDecision('oom', { ...policy, oomRetry: { enabled: false, maxMemoryMb: null } }, state),
    ).toEqual({ retry: false });
  });

  it('never retries a cancellation or a success', () => {
    expect(retryDecision('cancelled', policy, state)).toEqual({ retry: false });
    expect(retryDecision('completed', policy, state)).toEqual({ retry: false });
  });

  it('matches images against exact names and prefixes', () => {
    expect(imageAllowed('x', [])).toBe(true);
    expect(imageAllowed('agentfleet/agent-runtime:dev', ['agentfleet/*'])).toBe(true);
    expect(imageAllowed('evil/agentfleet', ['agentfleet/*'])).toBe(false);
    expect(imageAllowed('node:24', ['node:24'])).toBe(true);
    expect(imageAllowed('node:22', ['node:24'])).toBe(false);
  });
});
