import { randomUUID } from 'node:crypto';
import type { JobEvent } from '@agentfleet/contracts';
import { createTestRedis, type TestRedis } from '@agentfleet/testing';
import { RedisAttemptEvidence, RedisJobEventSink } from './redis-job-events.adapter';
import { RedisKeys } from './redis-keys';

function progress(jobId: string, attempt: number): JobEvent {
  return { v: 1, job_id: jobId, attempt, at: new Date().toISOString(), type: 'progress', progress: 0.5 };
}

describe('RedisAttemptEvidence (real Redis)', () => {
  let t: TestRedis;
  let keys: RedisKeys;
  beforeEach(() => {
    t = createTestRedis();
    keys = new RedisKeys(t.prefix);
  });
  afterEach(() => t.cleanup());

  it('tells an attempt that wrote events to its job stream from one that did not', async () => {
    const jobId = randomUUID();
    const evidence = new RedisAttemptEvidence(t.redis, keys);
    expect(await evidence.ran(jobId, 1)).toBe(false);
    await new RedisJobEventSink(t.redis, keys, jobId).append([progress(jobId, 1)]);
    expect(await evidence.ran(jobId, 1)).toBe(true);
    expect(await evidence.ran(jobId, 2)).toBe(false);
    expect(await evidence.ran(randomUUID(), 1)).toBe(false);
  });

  it('finds the attempt behind stragglers of an older one', async () => {
    const jobId = randomUUID();
    const sink = new RedisJobEventSink(t.redis, keys, jobId);
    await sink.append([progress(jobId, 2)]);
    await sink.append([progress(jobId, 1), progress(jobId, 1)]); // a presumed-dead worker still writing
    expect(await new RedisAttemptEvidence(t.redis, keys).ran(jobId, 2)).toBe(true);
    // only as far back as it scans
    expect(await new RedisAttemptEvidence(t.redis, keys, 2).ran(jobId, 2)).toBe(false);
  });
});
