import {
  acceptsNewWork,
  livenessTransition,
  nextLiveness,
  nextScheduling,
  queuesFor,
} from './worker-liveness';

describe('worker liveness state machine', () => {
  it('marks only an online worker lost when its grace period passes', () => {
    expect(nextLiveness('online', 'grace_exceeded')).toBe('lost');
    expect(nextLiveness('offline', 'grace_exceeded')).toBeUndefined();
    expect(nextLiveness('lost', 'grace_exceeded')).toBeUndefined();
  });

  it('brings a lost worker back online when its heartbeat returns, but not an offline one', () => {
    expect(nextLiveness('lost', 'heartbeat')).toBe('online');
    expect(nextLiveness('offline', 'heartbeat')).toBeUndefined();
  });

  it('lets a worker register again from any state', () => {
    for (const s of ['online', 'lost', 'offline'] as const)
      expect(nextLiveness(s, 'register')).toBe('online');
  });

  it('takes a worker offline on deregistration or token revocation', () => {
    expect(nextLiveness('online', 'deregister')).toBe('offline');
    expect(nextLiveness('lost', 'deregister')).toBe('offline');
    expect(nextLiveness('offline', 'deregister')).toBeUndefined();
    expect(livenessTransition('token_revoked').to).toBe('offline');
  });
});

describe('worker scheduling', () => {
  it('keeps a draining worker draining when it is cordoned', () => {
    expect(nextScheduling('draining', 'cordon')).toBe('draining');
    expect(nextScheduling('active', 'cordon')).toBe('cordoned');
    expect(nextScheduling('cordoned', 'drain')).toBe('draining');
    expect(nextScheduling('draining', 'uncordon')).toBe('active');
  });

  it('gives new work only to online, active workers', () => {
    expect(acceptsNewWork('online', 'active')).toBe(true);
    expect(acceptsNewWork('online', 'cordoned')).toBe(false);
    expect(acceptsNewWork('online', 'draining')).toBe(false);
    expect(acceptsNewWork('lost', 'active')).toBe(false);
  });

  it('derives queues from capabilities and pools', () => {
    expect(queuesFor(['execute', 'ingest', 'supervise'], ['default', 'gpu'])).toEqual([
      'execution-default',
      'execution-gpu',
      'supervise',
      'ingestion',
    ]);
    expect(queuesFor(['ingest'], ['default'])).toEqual(['ingestion']);
  });
});
