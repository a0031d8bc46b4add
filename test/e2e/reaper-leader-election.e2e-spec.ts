import {
  createTestDatabase,
  createTestRedis,
  waitFor,
  type TestDatabase,
  type TestRedis,
} from '@agentfleet/testing';
import {
  CONTROL_PLANE_ENTRY,
  type RunningProcess,
  WORKER_ENTRY,
  freePort,
  spawnNode,
} from './support/processes';

const REDIS_URL = process.env['AGENTFLEET_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('reaper leader election across two control-plane processes', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  const procs: RunningProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = createTestRedis();
  });
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await redis.cleanup();
    await db.drop();
  });

  function startControlPlane(port: number): RunningProcess {
    const p = spawnNode(CONTROL_PLANE_ENTRY, {
      AGENTFLEET_PORT: String(port),
      AGENTFLEET_HOST: '127.0.0.1',
      AGENTFLEET_DATABASE_URL: db.url,
      AGENTFLEET_REDIS_URL: REDIS_URL,
      AGENTFLEET_REDIS_PREFIX: redis.prefix,
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '500',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '1500',
      AGENTFLEET_REAPER_INTERVAL_MS: '200',
      AGENTFLEET_LEADER_LOCK_TTL_MS: '1500',
    });
    procs.push(p);
    return p;
  }

  const leaderLines = (p: RunningProcess) =>
    p
      .output()
      .split('\n')
      .filter((l) => l.includes('became reaper leader'));

  it('lets exactly one replica reap, and hands over when the leader is killed', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const a = startControlPlane(portA);
    const b = startControlPlane(portB);
    for (const port of [portA, portB]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, {
        timeoutMs: 30_000,
        what: `replica on ${port}`,
      });
    }
    // both started on an empty database at once: the bootstrap lock lets one create the organization
    const banners = [a, b].filter((p) => p.output().includes('Instance-admin API key'));
    expect(banners).toHaveLength(1);
    const adminKey = /afk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}/.exec(banners[0]!.output())![0];

    await waitFor(() => leaderLines(a).length + leaderLines(b).length === 1, { what: 'a leader' });
    const leader = leaderLines(a).length ? a : b;
    const follower = leader === a ? b : a;
    const followerPort = leader === a ? portB : portA;
    const holder = await redis.redis.get(`${redis.prefix}leader:reaper`);
    expect(leaderLines(leader)[0]).toContain(holder!);
    // the follower stays a follower for several lock renewals
    await new Promise((r) => setTimeout(r, 2_000));
    expect(leaderLines(follower)).toHaveLength(0);

    leader.kill('SIGKILL');
    await leader.exited;
    await waitFor(() => leaderLines(follower).length === 1, {
      timeoutMs: 10_000,
      what: 'the follower to take over',
    });
    expect(await redis.redis.get(`${redis.prefix}leader:reaper`)).not.toBe(holder);

    // the new leader reaps: a worker killed now is marked lost
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`http://127.0.0.1:${followerPort}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      });
    const token = (await (
      await api('/api/v1/worker-tokens', { method: 'POST', body: JSON.stringify({ name: 'failover' }) })
    ).json()) as {
      token: string;
    };
    const worker = spawnNode(WORKER_ENTRY, {
      AGENTFLEET_WORKER_TOKEN: token.token,
      AGENTFLEET_CONTROL_PLANE_URL: `http://127.0.0.1:${followerPort}`,
      AGENTFLEET_REDIS_URL: REDIS_URL,
      AGENTFLEET_WORKER_INSTANCE_ID: 'failover-worker',
      AGENTFLEET_WORKER_HEALTH_PORT: '0',
    });
    procs.push(worker);
    const status = async () =>
      ((await (await api('/api/v1/admin/workers')).json()) as { items: { status: string }[] }).items[0]
        ?.status;
    await waitFor(async () => (await status()) === 'online', { what: 'worker online' });
    worker.kill('SIGKILL');
    await waitFor(async () => (await status()) === 'lost', { timeoutMs: 15_000, what: 'worker lost' }).catch(
      (e: Error) => {
        throw new Error(`${e.message}\n--- new leader's output ---\n${follower.output().slice(-3000)}`);
      },
    );
  });
});
