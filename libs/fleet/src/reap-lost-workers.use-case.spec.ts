import { FakeLiveness, InMemoryFleet } from './in-memory-fleet.fake';
import { ReapLostWorkersUseCase } from './reap-lost-workers.use-case';

const ORG = '00000000-0000-4000-8000-000000000001';
const settings = { heartbeatIntervalMs: 1000, gracePeriodMs: 3000, redisKeyPrefix: 'af:' };

async function setup(workerCount = 2) {
  const fleet = new InMemoryFleet();
  const live = new FakeLiveness();
  const token = await fleet.repos.workerTokens.create({
    organizationId: ORG,
    name: 't',
    prefix: 'p',
    tokenHash: 'h',
    labels: {},
    capabilities: ['execute'],
    maxConcurrentTasks: 2,
    pools: ['default'],
    createdBy: null,
    expiresAt: null,
  });
  const ids: string[] = [];
  for (let i = 0; i < workerCount; i++) {
    const w = await fleet.repos.workers.upsertRegistration({
      organizationId: ORG,
      tokenId: token.id,
      instanceId: `i${i}`,
      hostname: 'h',
      version: '1',
      protocolVersion: 1,
      labels: {},
      capabilities: ['execute'],
      pools: ['default'],
      capacity: {},
      concurrency: 2, // what registration gives: the token's max_concurrent_tasks (no slots given)
      registeredAt: new Date(live.nowMs),
    });
    live.beat(w.id);
    ids.push(w.id);
  }
  return { fleet, live, token, ids, reaper: new ReapLostWorkersUseCase(fleet, live, settings) };
}

describe('ReapLostWorkersUseCase', () => {
  it('marks a worker lost once its last heartbeat is older than the grace period, and only that one', async () => {
    const { fleet, live, ids, reaper } = await setup();
    live.nowMs += 2000;
    live.beat(ids[1]!);
    live.nowMs += 1500; // ids[0] last beat 3.5 s ago, ids[1] 1.5 s ago
    const r = await reaper.execute();
    expect(r.lost.map((w) => w.id)).toEqual([ids[0]]);
    expect(fleet.workers.get(ids[0]!)?.status).toBe('lost');
    expect(fleet.workers.get(ids[1]!)?.status).toBe('online');
    expect(live.alive.has(ids[0]!)).toBe(false);
    expect(fleet.audit.map((a) => a.action)).toContain('worker.lost');
  });

  it('does not mark a worker lost while it is inside the grace period', async () => {
    const { live, reaper } = await setup();
    live.nowMs += 2999;
    expect((await reaper.execute()).lost).toHaveLength(0);
  });

  it('is idempotent: a second cycle changes nothing', async () => {
    const { live, reaper } = await setup();
    live.nowMs += 5000;
    expect((await reaper.execute()).lost).toHaveLength(2);
    const again = await reaper.execute();
    expect(again).toEqual({ lost: [], recovered: [], stopped: [], reloaded: [] });
  });

  it('repairs a cycle that died between PostgreSQL and Redis', async () => {
    const { fleet, live, ids, reaper } = await setup(1);
    live.nowMs += 5000;
    live.failForgetStale = true;
    await expect(reaper.execute()).rejects.toThrow('Redis went away');
    expect(fleet.workers.get(ids[0]!)?.status).toBe('lost');
    live.failForgetStale = false;
    const r = await reaper.execute();
    expect(r.lost).toHaveLength(0); // already lost: the conditional update is a no-op
    expect(live.alive.has(ids[0]!)).toBe(false);
  });

  it('brings a lost worker back online when its heartbeat returns', async () => {
    const { fleet, live, ids, reaper } = await setup(1);
    live.nowMs += 5000;
    await reaper.execute();
    live.beat(ids[0]!);
    const r = await reaper.execute();
    expect(r.recovered.map((w) => w.id)).toEqual(ids);
    expect(fleet.workers.get(ids[0]!)?.status).toBe('online');
  });

  it('never marks an offline worker lost, even if a stale heartbeat remains', async () => {
    const { fleet, live, ids, reaper } = await setup(1);
    await fleet.repos.workers.transition(ids, ['online'], 'offline', new Date());
    live.nowMs += 5000;
    const r = await reaper.execute();
    expect(r.lost).toHaveLength(0);
    expect(fleet.workers.get(ids[0]!)?.status).toBe('offline');
    expect(live.alive.size).toBe(0);
  });

  it('stops the workers of a revoked token: publishes the revocation, sends stop, takes them offline', async () => {
    const { fleet, live, token, ids, reaper } = await setup(2);
    fleet.tokens.get(token.id)!.revokedAt = new Date(); // revoked in PostgreSQL but the Redis write was lost
    const r = await reaper.execute();
    expect(r.stopped.map((w) => w.id).sort()).toEqual([...ids].sort());
    expect(live.tokenState.get(token.id)?.revoked).toBe(true);
    expect(live.controls.filter((c) => c.message.type === 'stop')).toHaveLength(2);
    expect((await reaper.execute()).stopped).toHaveLength(0);
  });

  it('stops the workers of an expired token', async () => {
    const { fleet, live, token, reaper } = await setup(1);
    fleet.tokens.get(token.id)!.expiresAt = new Date(live.nowMs - 1000);
    const r = await reaper.execute();
    expect(r.stopped).toHaveLength(1);
    expect(live.tokenState.get(token.id)).toEqual({
      revoked: false,
      expiresAt: fleet.tokens.get(token.id)!.expiresAt,
    });
  });

  describe('workers that missed a token change (reload)', () => {
    it("tells a worker still running with its token's old pools to register again, once it had time to act", async () => {
      const { fleet, live, token, ids, reaper } = await setup(1);
      fleet.tokens.get(token.id)!.pools = ['default', 'gpu'];
      live.nowMs += 1000; // registered one interval ago: it may still be acting on the first reload
      live.beat(ids[0]!);
      expect((await reaper.execute()).reloaded).toEqual([]);
      live.nowMs += 2500;
      live.beat(ids[0]!);
      expect((await reaper.execute()).reloaded).toEqual([ids[0]]);
      expect(live.controls).toEqual([{ workerId: ids[0], message: { type: 'reload' } }]);
    });

    it('finds a changed concurrency and token labels too, and leaves workers with current settings alone', async () => {
      const { fleet, live, token, ids, reaper } = await setup(2);
      live.nowMs += 3500;
      ids.forEach((id) => live.beat(id));
      expect((await reaper.execute()).reloaded).toEqual([]);
      fleet.tokens.get(token.id)!.maxConcurrentTasks = 4;
      expect((await reaper.execute()).reloaded.sort()).toEqual([...ids].sort());
      fleet.tokens.get(token.id)!.maxConcurrentTasks = 2;
      fleet.tokens.get(token.id)!.labels = { zone: 'b' };
      expect((await reaper.execute()).reloaded.sort()).toEqual([...ids].sort());
    });

    it('leaves the workers of a revoked token to be stopped, not reloaded', async () => {
      const { fleet, live, token, reaper } = await setup(1);
      live.nowMs += 3500;
      const t = fleet.tokens.get(token.id)!;
      t.pools = ['gpu'];
      t.revokedAt = new Date(live.nowMs);
      const r = await reaper.execute();
      expect(r.reloaded).toEqual([]);
      expect(live.controls.map((c) => c.message.type)).toEqual(['stop']);
    });
  });
});
