import { randomUUID } from 'node:crypto';
import type { JobEvent } from '@agentfleet/contracts';
import { createTestRedis, type TestRedis } from '@agentfleet/testing';
import { RedisAttemptEvidence, RedisJobEventConsumer, RedisJobEventSink } from './redis-job-events.adapter';
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

describe('RedisJobEventConsumer: what an operator reads of the group (real Redis)', () => {
  let t: TestRedis;
  let keys: RedisKeys;
  beforeEach(() => {
    t = createTestRedis();
    keys = new RedisKeys(t.prefix);
  });
  afterEach(() => t.cleanup());

  const consumer = (name: string) => new RedisJobEventConsumer(t.redis, keys, 'control-plane', name);

  it('reports no group, no consumers and nothing pending before the stream exists', async () => {
    const c = consumer('a');
    expect(await c.groupInfo()).toBeUndefined();
    expect(await c.consumers()).toEqual([]);
    expect(await c.oldestPending()).toBeNull();
    expect(await c.streamLength()).toBe(0);
  });

  it('reports lag, pending per consumer with idle time, and the oldest pending entry with its age', async () => {
    const a = consumer('replica-a');
    await a.ensureGroup();
    const firstId = await t.redis.xadd(keys.jobEventsFirehose(), '*', 'sid', '1-1', 'e', '{}');
    await t.redis.xadd(keys.jobEventsFirehose(), '*', 'sid', '1-2', 'e', '{}');
    await t.redis.xadd(keys.jobEventsFirehose(), '*', 'sid', '1-3', 'e', '{}');
    await new Promise((r) => setTimeout(r, 30));
    // replica-a takes two and acknowledges neither; the third is not delivered yet
    await a.read(2, 10);
    expect(await a.groupInfo()).toMatchObject({ lag: 1, pending: 2 });
    expect(await a.streamLength()).toBe(3);
    const consumers = await a.consumers();
    expect(consumers.find((c) => c.name === 'replica-a')).toMatchObject({ pending: 2 });
    expect(consumers.find((c) => c.name === 'replica-a')!.idleMs).toBeGreaterThanOrEqual(0);
    const oldest = await a.oldestPending();
    expect(oldest).toMatchObject({ id: firstId, consumer: 'replica-a', deliveries: 1 });
    expect(oldest!.ageMs).toBeGreaterThanOrEqual(30);
    expect(oldest!.idleMs).toBeGreaterThanOrEqual(0);
    await a.ack([firstId!]);
    expect((await a.oldestPending())?.id).not.toBe(firstId);
  });
});
