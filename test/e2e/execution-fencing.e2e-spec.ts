import Docker from 'dockerode';
import { waitFor } from '@agentfleet/testing';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';
import { type RunningProcess, WORKER_ENTRY, spawnNode } from './support/processes';

const IMAGE = 'agentfleet/agent-runtime:dev';
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

interface Job {
  id: string;
  status: string;
  attempt: number;
  worker_id: string | null;
  last_failure_reason: string | null;
}

describe('fencing: a worker killed mid-job', () => {
  let cp: InProcessControlPlane & { url: string };
  const workers = new Map<string, RunningProcess>();

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '500',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '2000',
      AGENTFLEET_REAPER_INTERVAL_MS: '250',
    });
    await cp
      .as(cp.adminKey)
      .post('/api/v1/execution-targets', { name: 'docker', type: 'docker', allowed_images: ['agentfleet/*'] })
      .expect(201);
    const token = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/worker-tokens', { name: 'w', capabilities: ['execute'] })
        .expect(201)
    ).body as {
      token: string;
    };
    for (const name of ['fence-a', 'fence-b']) {
      const w = spawnNode(WORKER_ENTRY, {
        AGENTFLEET_WORKER_TOKEN: token.token,
        AGENTFLEET_CONTROL_PLANE_URL: cp.url,
        AGENTFLEET_REDIS_URL: process.env['AGENTFLEET_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379',
        AGENTFLEET_WORKER_INSTANCE_ID: name,
        AGENTFLEET_WORKER_RUNTIMES: 'docker',
        AGENTFLEET_WORKER_SLOTS: '1',
        AGENTFLEET_WORKER_HEALTH_PORT: '0',
      });
      workers.set(name, w);
      await waitFor(() => w.output().includes('consuming execution queues'), {
        timeoutMs: 20_000,
        what: `${name} consuming`,
      });
    }
  });

  afterAll(async () => {
    for (const w of workers.values()) w.kill('SIGKILL');
    await Promise.all([...workers.values()].map((w) => w.exited));
    await cp.close();
  });

  it('re-runs the job on another worker as attempt 2, removes the orphan container, and completes exactly once', async () => {
    // long enough to be killed mid-run; prints a marker per attempt so the events show which attempt ran
    const script =
      "console.log('attempt ' + process.env.MARK); setTimeout(() => console.log(JSON.stringify({v:1,type:'result',output:'done'})), 6000)";
    const job = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/jobs', { image: IMAGE, command: ['node', '-e', script], env: { MARK: 'x' } })
        .expect(201)
    ).body as Job;
    const running = await waitFor(
      async () => {
        const j = (await cp.as(cp.adminKey).get(`/api/v1/jobs/${job.id}`)).body as Job;
        return j.status === 'running' && j.worker_id ? j : undefined;
      },
      { timeoutMs: 30_000, what: 'running' },
    );
    const fleet = (await cp.as(cp.adminKey).get('/api/v1/admin/workers').expect(200)).body as {
      items: { id: string; instance_id: string }[];
    };
    const holder = fleet.items.find((w) => w.id === running.worker_id)!;
    const holderProc = workers.get(holder.instance_id)!;
    holderProc.kill('SIGKILL');
    await holderProc.exited;
    // the dead worker's container is still running on the shared Docker host: an orphan
    const orphans = await docker.listContainers({ filters: { label: [`agentfleet.job_id=${job.id}`] } });
    expect(orphans.length).toBe(1);

    const done = await waitFor(
      async () => {
        const j = (await cp.as(cp.adminKey).get(`/api/v1/jobs/${job.id}`)).body as Job;
        return ['completed', 'failed', 'oom', 'timed_out', 'cancelled'].includes(j.status) ? j : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the job to end' },
    );
    expect(done.status).toBe('completed');
    expect(done.attempt).toBe(2);
    expect(done.worker_id).not.toBe(running.worker_id);
    expect(done.last_failure_reason).toContain('lost');

    // exactly one end in the database's event history, and it is attempt 2's
    const { Client } = await import('pg');
    const c = new Client({ connectionString: cp.db.url });
    await c.connect();
    const finished = await c.query<{ attempt: number }>(
      `SELECT attempt FROM execution_job_events WHERE job_id = $1 AND type = 'finished'`,
      [job.id],
    );
    await c.end();
    expect(finished.rows).toEqual([{ attempt: 2 }]);
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`agentfleet.job_id=${job.id}`] },
    });
    expect(left).toHaveLength(0);
  });
});
