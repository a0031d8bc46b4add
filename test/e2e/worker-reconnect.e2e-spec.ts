import { waitFor } from '@agentfleet/testing';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';
import { type RunningProcess, WORKER_ENTRY, freePort, spawnNode } from './support/processes';
import { OwnRedisServer } from './support/redis-server';

interface WorkerView {
  status: string;
  live: { status: string } | null;
}

describe('workers reconnect when the control plane or Redis is away', () => {
  const procs: RunningProcess[] = [];
  let cp: (InProcessControlPlane & { url: string }) | undefined;

  afterEach(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.splice(0).map((p) => p.exited));
    await cp?.close();
    cp = undefined;
  });

  it('keeps retrying registration while the control plane is down, logs it, and registers once it is up', async () => {
    const port = await freePort();
    // a token needs a control plane: make it on one instance, stop it, then start the worker against the port
    const first = await startInProcessControlPlane({}, { port });
    const { token } = (
      await first.as(first.adminKey).post('/api/v1/worker-tokens', { name: 'r' }).expect(201)
    ).body as {
      token: string;
    };
    await first.app.close();

    const worker = spawnNode(WORKER_ENTRY, {
      AGENTFLEET_WORKER_TOKEN: token,
      AGENTFLEET_CONTROL_PLANE_URL: `http://127.0.0.1:${port}`,
      AGENTFLEET_WORKER_HEALTH_PORT: '0',
    });
    procs.push(worker);
    await waitFor(() => worker.output().includes('control plane unreachable; retrying registration'), {
      what: 'retry log',
    });

    // the same database and Redis namespace come back on the same port
    const { createControlPlaneApp } = await import('../../apps/control-plane/src/create-app');
    const again = await createControlPlaneApp(first.env);
    await again.listen(port, '127.0.0.1');
    try {
      await waitFor(() => worker.output().includes('worker registered'), {
        timeoutMs: 20_000,
        what: 'registration',
      });
    } finally {
      await again.close();
      await first.redis.cleanup();
      await first.db.drop();
    }
  });

  it('survives a Redis restart that loses every key: logs the outage, registers again and is online', async () => {
    const redis = new OwnRedisServer(await freePort());
    await redis.start();
    try {
      cp = await startInProcessControlPlane({ AGENTFLEET_REDIS_URL: redis.url });
      const { token } = (await cp.as(cp.adminKey).post('/api/v1/worker-tokens', { name: 'r' }).expect(201))
        .body as {
        token: string;
      };
      const worker = spawnNode(WORKER_ENTRY, {
        AGENTFLEET_WORKER_TOKEN: token,
        AGENTFLEET_CONTROL_PLANE_URL: cp.url,
        AGENTFLEET_REDIS_URL: redis.url,
        AGENTFLEET_WORKER_HEALTH_PORT: '0',
      });
      procs.push(worker);
      const fleet = async () =>
        ((await cp!.as(cp!.adminKey).get('/api/v1/admin/workers')).body as { items: WorkerView[] }).items[0];
      await waitFor(async () => (await fleet())?.live?.status === 'online', { what: 'online' });

      await redis.stop();
      await waitFor(() => worker.output().includes('heartbeat failed: Redis unreachable'), {
        what: 'outage logged',
      });
      await redis.start(); // empty: no token state, no alive set
      await waitFor(() => worker.output().includes('registering again'), {
        timeoutMs: 20_000,
        what: 're-registration',
      });
      await waitFor(
        async () => {
          const w = await fleet();
          return w?.status === 'online' && w.live?.status === 'online';
        },
        { timeoutMs: 20_000, what: 'online after the restart' },
      );
    } finally {
      await cp?.close();
      cp = undefined;
      await redis.stop();
    }
  });
});
