import {
  type TestDatabase,
  type TestRedis,
  createTestDatabase,
  createTestRedis,
  waitFor,
} from '@agentfleet/testing';
import { type ControlPlaneProcess, startControlPlaneProcess } from './support/control-plane-process';
import { type RunningProcess, startExecutionWorker } from './support/processes';

type Line = Record<string, unknown>;

const BANNER = /\n?={64}\n[\s\S]*?\n={64}\n/;

/**
 * Every line a process printed, each parsed as one JSON object (a line that is not JSON fails the
 * test) — but for the bootstrap banner, which prints the first admin key once, by design outside the
 * logger (bootstrap-banner.ts).
 */
function jsonLines(output: string): Line[] {
  return output
    .replace(BANNER, '\n')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l) as Line;
      } catch {
        throw new Error(`not a JSON log line: ${l}`);
      }
    });
}

/** Logs of a control plane and a worker as real processes, in the JSON format production uses. */
describe('structured JSON logs', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let cp: ControlPlaneProcess;
  let worker: RunningProcess;
  let workerToken: string;
  let jobId: string;
  let organizationId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = createTestRedis();
    cp = await startControlPlaneProcess({
      AGENTFLEET_DATABASE_URL: db.url,
      AGENTFLEET_MIGRATE_ON_START: 'false',
      AGENTFLEET_REDIS_PREFIX: redis.prefix,
      AGENTFLEET_LOG_FORMAT: 'json',
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '500',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '3000',
    });
    await cp.api('POST', '/api/v1/execution-targets', {
      name: 'logs',
      type: 'process',
      worker_pool: 'default',
    });
    const t = await cp.api<{ token: string; organization_id: string }>('POST', '/api/v1/worker-tokens', {
      name: 'logs-worker',
      capabilities: ['execute'],
    });
    workerToken = t.body.token;
    organizationId = t.body.organization_id;
    worker = await startExecutionWorker(workerToken, cp.url, {
      AGENTFLEET_WORKER_INSTANCE_ID: 'logs-worker-1',
      AGENTFLEET_WORKER_RUNTIMES: 'process',
      AGENTFLEET_REDIS_PREFIX: redis.prefix,
      AGENTFLEET_LOG_FORMAT: 'json',
      AGENTFLEET_LOG_LEVEL: 'info',
    });
    const job = await cp.api<{ id: string }>('POST', '/api/v1/jobs', {
      command: ['node', '-e', 'console.log("hello")'],
    });
    jobId = job.body.id;
    await waitFor(
      async () =>
        (await cp.api<{ status: string }>('GET', `/api/v1/jobs/${jobId}`)).body.status === 'completed',
      { timeoutMs: 60_000, what: 'the job to complete' },
    );
    // a request carrying its own id, and one with a bad credential
    await fetch(`${cp.url}/api/v1/jobs/${jobId}`, {
      headers: { Authorization: `Bearer ${cp.adminKey}`, 'x-request-id': 'trace-logs-e2e-1' },
    });
    await fetch(`${cp.url}/api/v1/jobs`, {
      headers: { Authorization: `Bearer afk_${'x'.repeat(12)}_${'y'.repeat(43)}` },
    });
    await new Promise((r) => setTimeout(r, 300));
  }, 120_000);

  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker?.exited;
    cp?.kill('SIGTERM');
    await cp?.exited;
    await redis?.cleanup();
    await db?.drop();
  });

  it('every line of both processes is one JSON object with level, time, service and message', () => {
    for (const [service, out] of [
      ['control-plane', cp.output()],
      ['worker', worker.output()],
    ] as const) {
      const lines = jsonLines(out);
      expect(lines.length).toBeGreaterThan(3);
      for (const l of lines)
        expect(l).toMatchObject({ service, level: expect.any(String), time: expect.any(String) });
    }
  });

  it('a request line carries the request id (given or generated) and the caller organization', () => {
    const lines = jsonLines(cp.output()).filter((l) => l['request_id'] === 'trace-logs-e2e-1');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatchObject({
      organization_id: organizationId,
      res: { status: 200 },
      req: { method: 'GET', url: `/api/v1/jobs/${jobId}` },
    });
    const requests = jsonLines(cp.output()).filter((l) => l['req']);
    for (const l of requests) expect(l['request_id']).toEqual(expect.stringMatching(/^[\w.-]{1,64}$/));
  });

  it('the worker id is on every worker line after registration; job lines carry job id, attempt and organization', () => {
    const lines = jsonLines(worker.output());
    const online = lines.findIndex((l) => l['msg'] === 'worker online');
    expect(online).toBeGreaterThanOrEqual(0);
    const workerId = lines[online]!['worker_id'];
    expect(workerId).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    for (const l of lines.slice(online)) expect(l['worker_id']).toBe(workerId);
    const jobLines = lines.filter((l) => l['job_id'] === jobId);
    expect(jobLines.map((l) => l['msg'])).toEqual(expect.arrayContaining(['job started', 'job ended']));
    for (const l of jobLines)
      expect(l).toMatchObject({ attempt: 1, organization_id: organizationId, worker_id: workerId });
  });

  it('no credential appears in any log line (the admin key only in the one-time bootstrap banner)', () => {
    expect(BANNER.exec(cp.output())?.[0]).toContain(cp.adminKey);
    const all = cp.output().replace(BANNER, '') + worker.output();
    expect(all).not.toContain(cp.adminKey);
    expect(all).not.toContain(workerToken);
    expect(all).not.toContain('y'.repeat(43));
  });
});
