import { waitFor } from '@agentfleet/testing';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';
import { type RunningProcess, WORKER_ENTRY, spawnNode } from './support/processes';

interface WorkerView {
  id: string;
  instance_id: string;
  status: string;
  scheduling: string;
  live: { status: string; free_slots: number } | null;
}

describe('worker liveness across real processes', () => {
  let cp: InProcessControlPlane & { url: string };
  const workers: RunningProcess[] = [];

  beforeAll(async () => {
    cp = await startInProcessControlPlane();
  });
  afterEach(async () => {
    const stopping = workers.splice(0);
    for (const w of stopping) w.kill('SIGKILL');
    await Promise.all(stopping.map((w) => w.exited));
  });
  afterAll(async () => {
    await cp.close();
  });

  async function createToken(body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
    const res = await cp
      .as(cp.adminKey)
      .post('/api/v1/worker-tokens', { name: 'e2e', ...body })
      .expect(201);
    return res.body as { id: string; token: string };
  }

  function startWorker(token: string, instance: string): RunningProcess {
    const w = spawnNode(WORKER_ENTRY, {
      AGENTFLEET_WORKER_TOKEN: token,
      AGENTFLEET_CONTROL_PLANE_URL: cp.url,
      AGENTFLEET_REDIS_URL: process.env['AGENTFLEET_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379',
      AGENTFLEET_WORKER_INSTANCE_ID: instance,
      AGENTFLEET_WORKER_HEALTH_PORT: '0',
      AGENTFLEET_SHUTDOWN_GRACE_MS: '1000',
    });
    workers.push(w);
    return w;
  }

  async function fleet(): Promise<WorkerView[]> {
    const res = await cp.as(cp.adminKey).get('/api/v1/admin/workers?limit=200').expect(200);
    return (res.body as { items: WorkerView[] }).items;
  }

  async function waitForStatus(instance: string, status: string, timeoutMs = 15_000) {
    return waitFor(
      async () => {
        const w = (await fleet()).find((x) => x.instance_id === instance);
        return w && w.status === status ? w : undefined;
      },
      { timeoutMs, intervalMs: 100, what: `worker ${instance} ${status}` },
    );
  }

  it('marks a SIGKILLed worker lost within the grace period while the other stays online', async () => {
    const { token } = await createToken();
    const a = startWorker(token, 'worker-a');
    startWorker(token, 'worker-b');
    await waitForStatus('worker-a', 'online');
    await waitForStatus('worker-b', 'online');
    await waitFor(async () => (await fleet()).every((w) => w.live?.status === 'online'), {
      what: 'both heartbeating',
    });

    const killedAt = Date.now();
    a.kill('SIGKILL');
    await a.exited;
    await waitForStatus('worker-a', 'lost', cp.env.AGENTFLEET_WORKER_GRACE_PERIOD_MS * 4);
    const detectedAfter = Date.now() - killedAt;
    // grace period + one reaper interval + one heartbeat interval of slack, measured loosely (no timing assertion on noisy CI)
    expect(detectedAfter).toBeGreaterThanOrEqual(
      cp.env.AGENTFLEET_WORKER_GRACE_PERIOD_MS - cp.env.AGENTFLEET_HEARTBEAT_INTERVAL_MS,
    );
    const b = (await fleet()).find((w) => w.instance_id === 'worker-b');
    expect(b?.status).toBe('online');
    expect(b?.live?.status).toBe('online');

    const audit = await cp.as(cp.adminKey).get('/api/v1/admin/audit-log?action=worker.lost').expect(200);
    expect((audit.body as { items: { resource_id: string }[] }).items.map((i) => i.resource_id)).toContain(
      (await fleet()).find((w) => w.instance_id === 'worker-a')?.id,
    );
  });

  it('takes a worker offline when it gets SIGTERM, and brings it back with the same id on restart', async () => {
    const { token } = await createToken();
    const w = startWorker(token, 'worker-restart');
    const first = await waitForStatus('worker-restart', 'online');
    w.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
    const offline = await waitForStatus('worker-restart', 'offline');
    expect(offline.id).toBe(first.id);
    startWorker(token, 'worker-restart');
    const again = await waitForStatus('worker-restart', 'online');
    expect(again.id).toBe(first.id);
  });

  it('stops a worker at its next heartbeat when its token is revoked', async () => {
    const { id, token } = await createToken();
    const w = startWorker(token, 'worker-revoked');
    await waitForStatus('worker-revoked', 'online');
    await cp.as(cp.adminKey).delete(`/api/v1/worker-tokens/${id}`).expect(200);
    const exit = await Promise.race([
      w.exited,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('worker did not stop')), 10_000)),
    ]);
    expect(exit.code).toBe(3);
    expect(w.output()).toContain('worker token revoked');
    await waitForStatus('worker-revoked', 'offline');
  });

  it('refuses to start a worker whose token is unknown, with exit code 2', async () => {
    const w = startWorker(`awt_AAAAAAAAAAAA_${'A'.repeat(43)}`, 'worker-bad');
    const exit = await w.exited;
    expect(exit.code).toBe(2);
    expect(w.output()).toContain('worker token is not valid');
  });

  it('delivers drain and uncordon to a running worker through its heartbeat', async () => {
    const { token } = await createToken();
    startWorker(token, 'worker-drain');
    const w = await waitForStatus('worker-drain', 'online');
    await cp.as(cp.adminKey).post(`/api/v1/admin/workers/${w.id}/drain`).expect(200);
    await waitFor(async () => (await fleet()).find((x) => x.id === w.id)?.live?.status === 'drained', {
      what: 'drained',
    });
    await cp.as(cp.adminKey).post(`/api/v1/admin/workers/${w.id}/uncordon`).expect(200);
    await waitFor(async () => (await fleet()).find((x) => x.id === w.id)?.live?.status === 'online', {
      what: 'online again',
    });
  });
});
