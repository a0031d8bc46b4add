import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@agentfleet/testing';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';
import { type RunningProcess, WORKER_ENTRY, spawnNode, startExecutionWorker } from './support/processes';

const IMAGE = 'agentfleet/agent-runtime:dev';

interface Job {
  id: string;
  status: string;
  target_id: string | null;
  error: string | null;
}

interface SseEvent {
  id: string;
  event: string;
  data: { status?: string } & Record<string, unknown>;
}

/** Reads an SSE response into events until `stopAfter` of them arrived or the stream ended. */
async function readSse(
  url: string,
  key: string,
  lastEventId?: string,
  stopAfter = 1000,
): Promise<SseEvent[]> {
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const out: SseEvent[] = [];
  const reader = res.body!.getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += Buffer.from(value).toString();
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const f: Record<string, string> = {};
      for (const line of block.split('\n')) {
        const m = /^(\w+): ?(.*)$/.exec(line);
        if (m) f[m[1]!] = m[2]!;
      }
      if (f['event'] && f['event'] !== 'end')
        out.push({
          id: f['id'] ?? '',
          event: f['event'],
          data: JSON.parse(f['data'] ?? '{}') as SseEvent['data'],
        });
      if (out.length >= stopAfter) {
        await reader.cancel();
        return out;
      }
    }
  }
  return out;
}

describe('circuit breakers per target and SSE progress', () => {
  let cp: InProcessControlPlane & { url: string };
  let worker: RunningProcess;
  let good: { id: string };
  let bad: { id: string };

  beforeAll(async () => {
    cp = await startInProcessControlPlane();
    const admin = cp.as(cp.adminKey);
    // the pool's first target points at a Docker socket that does not exist: unreachable
    bad = (
      await admin
        .post('/api/v1/execution-targets', {
          name: 'unreachable-docker',
          type: 'docker',
          worker_pool: 'default',
          connection: { socket_path: '/nonexistent/docker.sock' },
          breaker: {
            error_threshold_percentage: 50,
            volume_threshold: 2,
            reset_timeout_ms: 60_000,
            rolling_window_ms: 60_000,
          },
        })
        .expect(201)
    ).body;
    good = (
      await admin
        .post('/api/v1/execution-targets', { name: 'local-docker', type: 'docker', worker_pool: 'default' })
        .expect(201)
    ).body;
    const token = (
      await admin.post('/api/v1/worker-tokens', { name: 'w', capabilities: ['execute'] }).expect(201)
    ).body as { token: string };
    worker = await startExecutionWorker(token.token, cp.url, { AGENTFLEET_WORKER_SLOTS: '1' });
  });

  afterAll(async () => {
    worker.kill('SIGTERM');
    await worker.exited;
    await cp.close();
  });

  const until = (id: string) =>
    waitFor(
      async () => {
        const j = (await cp.as(cp.adminKey).get(`/api/v1/jobs/${id}`)).body as Job;
        return ['completed', 'failed', 'failed_circuit_open', 'oom', 'timed_out', 'cancelled'].includes(
          j.status,
        )
          ? j
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: `job ${id} to end` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- worker ---\n${worker.output().slice(-3000)}`);
    });

  it('fails jobs on an unreachable target until its breaker opens, then re-routes them to the healthy target', async () => {
    const submit = async () =>
      (
        await cp
          .as(cp.adminKey)
          .post('/api/v1/jobs', { target_id: bad.id, image: IMAGE, command: ['node', '-e', '0'] })
          .expect(201)
      ).body as Job;
    const first = await until((await submit()).id);
    expect(first.status).toBe('failed');
    expect(first.error).toContain('unreachable-docker');
    const second = await until((await submit()).id);
    // the second failure reached the threshold: the breaker opened and this job was re-routed
    expect(['failed', 'completed']).toContain(second.status);
    await waitFor(
      async () => {
        const b = (await cp.as(cp.adminKey).get('/api/v1/admin/breakers').expect(200)).body as {
          items: { target: { id: string }; state: string }[];
        };
        return b.items.find((i) => i.target.id === bad.id)?.state === 'open';
      },
      { what: 'the breaker to be reported open' },
    );
    const rerouted = await until((await submit()).id);
    expect(rerouted.status).toBe('completed');
    expect(rerouted.target_id).toBe(good.id);
  });

  it('ends a job failed_circuit_open when no target of the pool is healthy, and closes on reset', async () => {
    await cp.as(cp.adminKey).delete(`/api/v1/execution-targets/${good.id}`).expect(200);
    const job = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/jobs', { target_id: bad.id, image: IMAGE, command: ['node', '-e', '0'] })
        .expect(201)
    ).body as Job;
    const ended = await until(job.id);
    expect(ended.status).toBe('failed_circuit_open');
    await cp.as(cp.adminKey).post(`/api/v1/admin/breakers/${bad.id}/reset`).expect(200);
    await waitFor(
      async () => {
        const b = (await cp.as(cp.adminKey).get('/api/v1/admin/breakers').expect(200)).body as {
          items: { target: { id: string }; state: string }[];
        };
        return b.items.find((i) => i.target.id === bad.id)?.state === 'closed';
      },
      { what: 'the breaker to close after the reset' },
    );
  });

  it('closes the breaker when the target answers again: after reset_timeout_ms the next job is the half-open probe and completes', async () => {
    // the target's socket path is ours: missing at first (unreachable), later a link to the real Docker socket
    const dir = await mkdtemp(join(tmpdir(), 'af-breaker-'));
    const socket = join(dir, 'docker.sock');
    const admin = cp.as(cp.adminKey);
    const flaky = (
      await admin
        .post('/api/v1/execution-targets', {
          name: 'flaky-docker',
          type: 'docker',
          worker_pool: 'recovering',
          connection: { socket_path: socket },
          breaker: {
            error_threshold_percentage: 50,
            volume_threshold: 2,
            reset_timeout_ms: 1500,
            rolling_window_ms: 10_000,
          },
        })
        .expect(201)
    ).body as { id: string };
    const t = (
      await admin
        .post('/api/v1/worker-tokens', {
          name: 'recovering',
          capabilities: ['execute'],
          pools: ['recovering'],
        })
        .expect(201)
    ).body as { token: string };
    const w = await startExecutionWorker(t.token, cp.url, {
      AGENTFLEET_WORKER_INSTANCE_ID: 'recovering-worker',
      AGENTFLEET_WORKER_SLOTS: '1',
    });
    const submit = async () =>
      (
        await admin
          .post('/api/v1/jobs', { pool: 'recovering', image: IMAGE, command: ['node', '-e', '0'] })
          .expect(201)
      ).body as Job;
    const stateOf = async () =>
      (
        (await admin.get('/api/v1/admin/breakers').expect(200)).body as {
          items: { target: { id: string }; state: string }[];
        }
      ).items.find((i) => i.target.id === flaky.id)?.state;
    const ended = (id: string) =>
      until(id).catch((e: Error) => {
        throw new Error(`${e.message}\n--- recovering worker ---\n${w.output().slice(-3000)}`);
      });
    try {
      expect((await ended((await submit()).id)).status).toBe('failed');
      // the second failure reaches the volume threshold; the pool has no other target to re-route to
      expect((await ended((await submit()).id)).status).toBe('failed_circuit_open');
      await waitFor(async () => (await stateOf()) === 'open', { what: 'the breaker to be reported open' });

      await symlink('/var/run/docker.sock', socket);
      // opossum moves to half-open once reset_timeout_ms has passed; the worker posts that state too
      await waitFor(async () => (await stateOf()) === 'half_open', {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: 'the breaker to turn half-open after its reset timeout',
      });
      const probe = await ended((await submit()).id);
      expect(probe).toMatchObject({ status: 'completed', target_id: flaky.id, error: null });
      await waitFor(async () => (await stateOf()) === 'closed', {
        what: 'the breaker to be reported closed after the probe succeeded',
      });
      // closed for good: the next job runs on the target as any other
      expect((await ended((await submit()).id)).status).toBe('completed');
      expect(await stateOf()).toBe('closed');
    } finally {
      w.kill('SIGTERM');
      await w.exited;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('streams a job over SSE and resumes after Last-Event-ID without repeating or losing events', async () => {
    await cp
      .as(cp.adminKey)
      .post('/api/v1/execution-targets', { name: 'local-docker-2', type: 'docker', worker_pool: 'sse' })
      .expect(201);
    const t2 = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/worker-tokens', { name: 'sse', capabilities: ['execute'], pools: ['sse'] })
        .expect(201)
    ).body as {
      token: string;
    };
    const w2 = spawnNode(WORKER_ENTRY, {
      AGENTFLEET_WORKER_TOKEN: t2.token,
      AGENTFLEET_CONTROL_PLANE_URL: cp.url,
      AGENTFLEET_REDIS_URL: process.env['AGENTFLEET_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379',
      AGENTFLEET_WORKER_INSTANCE_ID: 'sse-worker',
      AGENTFLEET_WORKER_RUNTIMES: 'docker',
      AGENTFLEET_WORKER_HEALTH_PORT: '0',
    });
    try {
      const script =
        "for (let i = 1; i <= 5; i++) console.log(JSON.stringify({v:1,type:'progress',progress:i/5,message:'step '+i}))";
      const job = (
        await cp
          .as(cp.adminKey)
          .post('/api/v1/jobs', { pool: 'sse', image: IMAGE, command: ['node', '-e', script] })
          .expect(201)
      ).body as Job;
      const url = `${cp.url}/api/v1/jobs/${job.id}/events`;
      const all = await readSse(url, cp.adminKey);
      expect(all.map((e) => e.event)).toEqual([
        'started',
        'progress',
        'progress',
        'progress',
        'progress',
        'progress',
        'finished',
      ]);
      expect(all.at(-1)?.data.status).toBe('completed');
      const resumed = await readSse(url, cp.adminKey, all[2]!.id);
      expect(resumed.map((e) => e.id)).toEqual(all.slice(3).map((e) => e.id));
      const other = await fetch(url, { headers: { authorization: 'Bearer nope' } });
      expect(other.status).toBe(401);
    } finally {
      w2.kill('SIGTERM');
      await w2.exited;
    }
  });
});
