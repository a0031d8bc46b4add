import { waitFor } from '@agentfleet/testing';
import { type ApiError, createApiKey, createOrganization, totalOf } from './support/api-fixtures';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';

interface ControlPlaneView {
  replica: { holder_id: string; is_reaper_leader: boolean };
  reaper: { lock_key: string; holder_id: string | null; ttl_ms: number | null; lock_ttl_ms: number };
  job_events: {
    stream: string;
    group: string;
    group_exists: boolean;
    length: number;
    lag: number | null;
    pending: number;
    claim_idle_ms: number;
    oldest_pending: {
      id: string;
      consumer: string;
      deliveries: number;
      age_ms: number;
      idle_ms: number;
    } | null;
    consumers: { name: string; pending: number; idle_ms: number; inactive_ms: number | null }[];
  };
}

/**
 * GET /api/v1/admin/control-plane: what docs/runbook.md used redis-cli for (the reaper lock, XINFO
 * GROUPS/CONSUMERS, XPENDING), for instance-admin keys only.
 */
describe('the control-plane machinery view (HTTP API, real PostgreSQL and Redis)', () => {
  let cp: InProcessControlPlane & { url: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '5000',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '60000',
    });
  });
  afterAll(async () => {
    await cp.close();
  });

  const view = async () =>
    (await cp.as(cp.adminKey).get('/api/v1/admin/control-plane').expect(200)).body as ControlPlaneView;

  it('names the reaper leader (this replica) and the time left on its lock', async () => {
    const v = await waitFor(
      async () => {
        const r = await view();
        return r.replica.is_reaper_leader ? r : undefined;
      },
      { timeoutMs: 10_000, what: 'the replica to become reaper leader' },
    );
    expect(v.reaper).toMatchObject({
      lock_key: `${cp.redis.prefix}leader:reaper`,
      holder_id: v.replica.holder_id,
      lock_ttl_ms: 2000,
    });
    expect(v.reaper.ttl_ms).toBeGreaterThan(0);
    expect(v.reaper.ttl_ms).toBeLessThanOrEqual(2000);
  });

  it('shows a lock held by another process without expiry (ttl_ms null), then the replica taking over', async () => {
    const key = `${cp.redis.prefix}leader:reaper`;
    // what the runbook's "key written by hand" case looks like: someone else's lock that never expires
    await cp.redis.redis.set(key, 'gone-host:1:deadbeef');
    const held = await waitFor(
      async () => {
        const r = await view();
        return r.replica.is_reaper_leader ? undefined : r;
      },
      { timeoutMs: 10_000, what: 'the replica to lose leadership' },
    );
    expect(held.reaper).toMatchObject({ holder_id: 'gone-host:1:deadbeef', ttl_ms: null });
    await cp.redis.redis.del(key);
    const back = await waitFor(
      async () => {
        const r = await view();
        return r.replica.is_reaper_leader ? r : undefined;
      },
      { timeoutMs: 10_000, what: 'the replica to take the lock again' },
    );
    expect(back.reaper.holder_id).toBe(back.replica.holder_id);
    // its own lock, written with the TTL (not a key without expiry)
    expect(back.reaper.ttl_ms).toBeGreaterThan(0);
  });

  it('reports the firehose group: lag, pending, consumers with idle time, the oldest pending entry', async () => {
    const stream = `${cp.redis.prefix}events:jobs`;
    const first = await waitFor(
      async () => {
        const v = await view();
        return v.job_events.group_exists ? v : undefined;
      },
      { timeoutMs: 10_000, what: 'the consumer group to exist' },
    );
    expect(first.job_events).toMatchObject({ stream, group: 'control-plane', claim_idle_ms: 30_000 });
    // a consumer that takes an entry and never acknowledges it (a replica that died holding it); in one
    // transaction, so the control plane's own blocked reader is served only after it
    await cp.redis.redis
      .multi()
      .xadd(stream, '*', 'sid', '0-1', 'e', 'not json')
      .xreadgroup('GROUP', 'control-plane', 'dead-replica', 'COUNT', 1, 'STREAMS', stream, '>')
      .exec();
    // and one entry the live replica reads (and drops as malformed): Redis lists a consumer once it was served
    await cp.redis.redis.xadd(stream, '*', 'sid', '0-2', 'e', 'not json either');
    await new Promise((r) => setTimeout(r, 50));
    const v = await waitFor(
      async () => {
        const r = await view();
        return r.job_events.consumers.length === 2 && r.job_events.pending === 1 ? r : undefined;
      },
      { timeoutMs: 10_000, what: 'the live replica to read and acknowledge its entry' },
    );
    expect(v.job_events.length).toBe(2);
    expect(v.job_events.lag).toBe(0);
    expect(v.job_events.oldest_pending).toMatchObject({ consumer: 'dead-replica', deliveries: 1 });
    expect(v.job_events.oldest_pending!.age_ms).toBeGreaterThanOrEqual(50);
    expect(v.job_events.oldest_pending!.idle_ms).toBeGreaterThanOrEqual(50);
    const dead = v.job_events.consumers.find((c) => c.name === 'dead-replica');
    expect(dead).toMatchObject({ pending: 1 });
    expect(dead!.idle_ms).toBeGreaterThanOrEqual(50);
    // the live replica's own consumer holds nothing: it acknowledged what it read
    expect(v.job_events.consumers.find((c) => c.name !== 'dead-replica')).toMatchObject({ pending: 0 });
  });

  it('writes nothing: no audit entry, no consumer of its own in the group', async () => {
    const before = await totalOf(cp, cp.adminKey, '/api/v1/admin/audit-log');
    const v = await view();
    expect(v.job_events.consumers.map((c) => c.name)).not.toContain('admin-api');
    expect(await totalOf(cp, cp.adminKey, '/api/v1/admin/audit-log')).toBe(before);
  });

  it('is refused (403) to every key that is not an instance admin, admins of organizations included', async () => {
    const plainAdmin = await createApiKey(cp, cp.adminKey, { role: 'admin' });
    const operator = await createApiKey(cp, cp.adminKey, { role: 'operator' });
    const other = await createOrganization(cp, 'cp-view-tenant');
    for (const key of [plainAdmin.key, operator.key, other.adminKey]) {
      const res = await cp.as(key).get('/api/v1/admin/control-plane').expect(403);
      expect((res.body as ApiError).error).toBe('forbidden');
    }
    const viewer = await createApiKey(cp, cp.adminKey, { role: 'viewer' });
    await cp.as(viewer.key).get('/api/v1/admin/control-plane').expect(403);
    await cp.http().get('/api/v1/admin/control-plane').expect(401);
  });
});
