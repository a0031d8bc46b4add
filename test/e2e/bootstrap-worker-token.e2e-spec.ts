import {
  type TestDatabase,
  type TestRedis,
  createTestDatabase,
  createTestRedis,
  waitFor,
} from '@agentfleet/testing';
import { randomBytes } from 'node:crypto';
import { registration } from './support/api-fixtures';
import { type ControlPlaneProcess, startControlPlaneProcess } from './support/control-plane-process';
import {
  CONTROL_PLANE_ENTRY,
  type RunningProcess,
  WORKER_ENTRY,
  freePort,
  spawnNode,
} from './support/processes';

const REDIS_URL = process.env['AGENTFLEET_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A token the way the chart's Secret makes one: `awt_` + randAlphaNum 12 + `_` + randAlphaNum 43. */
function chartToken(): string {
  const alnum = (n: number) => [...randomBytes(n)].map((b) => ALNUM[b % 62]).join('');
  return `awt_${alnum(12)}_${alnum(43)}`;
}
const prefixOf = (token: string) => token.split('_')[1]!;
const secretOf = (token: string) => token.slice('awt_'.length + 13);

interface TokenView {
  id: string;
  prefix: string;
  name: string;
  capabilities: string[];
  pools: string[];
  max_concurrent_tasks: number;
  labels: Record<string, string>;
  created_by: string;
  state: string;
}

/**
 * The Helm chart's bootstrap worker token, end to end: the control plane as a real process, started
 * and restarted on one database the way a Deployment's pods are, with the chart's environment.
 */
describe('bootstrap worker token: the control plane provisions the chart token at start (real processes)', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let cp: ControlPlaneProcess;
  let adminKey: string;
  const workers: RunningProcess[] = [];

  /** The chart's ConfigMap + Secret for the control plane (configmap.yaml, control-plane-deployment.yaml). */
  const chart = {
    AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: chartToken(),
    AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION: 'platform',
    AGENTFLEET_BOOTSTRAP_WORKER_NAME: 'helm-bootstrap',
    AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES: 'execute,ingest',
    AGENTFLEET_BOOTSTRAP_WORKER_POOLS: 'default,gpu-a100',
    AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS: '8',
    AGENTFLEET_BOOTSTRAP_WORKER_LABELS: 'cluster=prod-eu-1',
  };
  const baseEnv = () => ({
    AGENTFLEET_DATABASE_URL: db.url,
    AGENTFLEET_MIGRATE_ON_START: 'false',
    AGENTFLEET_REDIS_URL: REDIS_URL,
    AGENTFLEET_REDIS_PREFIX: redis.prefix,
    AGENTFLEET_HEARTBEAT_INTERVAL_MS: '500',
    AGENTFLEET_WORKER_GRACE_PERIOD_MS: '1500',
    AGENTFLEET_REAPER_INTERVAL_MS: '200',
  });

  /** A restart: a new process on the same database (prints no admin key: the database is not empty). */
  async function restart(env: Record<string, string>): Promise<ControlPlaneProcess> {
    await stop();
    cp = await startControlPlaneProcess({ ...baseEnv(), ...env }, { adminKey });
    return cp;
  }
  async function stop() {
    if (!cp) return;
    cp.kill('SIGTERM');
    await cp.exited;
  }

  const call = (method: 'GET' | 'POST' | 'DELETE', path: string, bearer: string, body?: unknown) =>
    cp.api<Record<string, unknown> & { message?: string }>(method, path, body, bearer);
  const register = (token: string, instance: string) =>
    call('POST', '/api/v1/workers/register', token, registration(instance));
  async function tokens(): Promise<TokenView[]> {
    const res = await call('GET', '/api/v1/worker-tokens?limit=200', adminKey);
    return (res.body as unknown as { items: TokenView[] }).items;
  }
  async function auditTotal(action: string, id: string): Promise<number> {
    const res = await call('GET', `/api/v1/admin/audit-log?action=${action}&resource_id=${id}`, adminKey);
    return res.body['total'] as number;
  }
  /** The one start-up line about the token (pino JSON, message in `msg`). */
  const tokenLines = (p: RunningProcess) =>
    p
      .output()
      .split('\n')
      .filter((l) => l.includes('bootstrap worker token'));

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = createTestRedis();
  });
  afterEach(async () => {
    const stopping = workers.splice(0);
    for (const w of stopping) w.kill('SIGKILL');
    await Promise.all(stopping.map((w) => w.exited));
  });
  afterAll(async () => {
    await stop();
    await redis?.cleanup();
    await db?.drop();
  });

  it('on a fresh install creates the organization first, then the token, and a worker registers with it over HTTP', async () => {
    const first: ControlPlaneProcess = await startControlPlaneProcess({ ...baseEnv(), ...chart });
    cp = first;
    adminKey = first.adminKey;
    expect(first.output()).toContain('AgentFleet bootstrap: organization "platform"');
    expect(tokenLines(first)).toEqual([
      expect.stringContaining(
        `bootstrap worker token awt_${prefixOf(chart.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN)}_…: created in organization \\"platform\\" as \\"helm-bootstrap\\"`,
      ),
    ]);
    expect(first.output()).not.toContain(secretOf(chart.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN));

    const res = await register(chart.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN, 'chart-worker-0');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      capabilities: ['execute', 'ingest'],
      pools: ['default', 'gpu-a100'],
      queues: expect.arrayContaining(['execution-default', 'execution-gpu-a100']),
    });
    const [t] = await tokens();
    expect(t).toMatchObject({
      prefix: prefixOf(chart.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN),
      name: 'helm-bootstrap',
      max_concurrent_tasks: 8,
      labels: { cluster: 'prod-eu-1' },
      created_by: 'system:bootstrap-worker-token',
      state: 'active',
    });
    expect(await auditTotal('worker_token.created', t!.id)).toBe(1);
  });

  it('on a restart with the same configuration logs "unchanged" and writes no audit entry', async () => {
    const [before] = await tokens();
    const p = await restart(chart);
    expect(tokenLines(p)).toEqual([expect.stringMatching(/_…: unchanged/)]);
    expect(await tokens()).toEqual([before]);
    expect(await auditTotal('worker_token.created', before!.id)).toBe(1);
    expect(await auditTotal('worker_token.updated', before!.id)).toBe(0);
  });

  it('on a restart with changed settings updates the token in place and audits it', async () => {
    const [before] = await tokens();
    const p = await restart({ ...chart, AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS: '2' });
    expect(tokenLines(p)).toEqual([expect.stringMatching(/_…: updated \(max_concurrent_tasks\)/)]);
    const [after] = await tokens();
    expect(after).toMatchObject({ id: before!.id, max_concurrent_tasks: 2, state: 'active' });
    expect(await auditTotal('worker_token.updated', before!.id)).toBe(1);
    expect((await register(chart.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN, 'chart-worker-1')).body).toMatchObject({
      concurrency: 2,
    });
  });

  it('on a new token value rotates: the old token is revoked and its running worker stops, a hand-made token of the same name stays', async () => {
    const oldToken = chart.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN;
    // a real worker of the chart, running with the old value
    const w = spawnNode(WORKER_ENTRY, {
      AGENTFLEET_WORKER_TOKEN: oldToken,
      AGENTFLEET_CONTROL_PLANE_URL: cp.url,
      AGENTFLEET_REDIS_URL: REDIS_URL,
      AGENTFLEET_WORKER_INSTANCE_ID: 'chart-worker-live',
      AGENTFLEET_WORKER_HEALTH_PORT: '0',
      AGENTFLEET_SHUTDOWN_GRACE_MS: '1000',
    });
    workers.push(w);
    await waitFor(
      async () => {
        const res = await call('GET', '/api/v1/admin/workers?limit=200', adminKey);
        const items = (res.body as unknown as { items: { instance_id: string; live: unknown }[] }).items;
        return items.some((x) => x.instance_id === 'chart-worker-live' && x.live);
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the chart worker to heartbeat' },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${w.output().slice(-2000)}`);
    });
    const manual = await call('POST', '/api/v1/worker-tokens', adminKey, { name: 'helm-bootstrap' });
    expect(manual.status).toBe(201);

    const newToken = chartToken();
    const p = await restart({ ...chart, AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: newToken });
    expect(tokenLines(p)).toEqual([
      expect.stringMatching(
        new RegExp(`awt_${prefixOf(newToken)}_…: rotated: .*revoked the earlier awt_${prefixOf(oldToken)}_…`),
      ),
    ]);
    expect(p.output()).not.toContain(secretOf(newToken));

    // the old token's worker is stopped (a `stop` message or a refused heartbeat, whichever it sees first)
    const exit = await Promise.race([
      w.exited,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000)),
    ]);
    expect(exit).toBeDefined();
    expect([0, 3]).toContain(exit!.code);
    const refused = await register(oldToken, 'chart-worker-live');
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(/revoked/);

    expect((await register(newToken, 'chart-worker-live')).status).toBe(200);
    expect((await register(manual.body['token'] as string, 'hand-made-0')).status).toBe(200);
    const byPrefix = new Map((await tokens()).map((t) => [t.prefix, t]));
    expect(byPrefix.get(prefixOf(oldToken))?.state).toBe('revoked');
    expect(byPrefix.get(prefixOf(newToken))?.state).toBe('active');
    expect(byPrefix.get(manual.body['prefix'] as string)?.state).toBe('active');
    chart.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN = newToken;
  });

  it('never re-enables a revoked token: start-up logs an error saying what to do and the control plane still serves', async () => {
    const token = chart.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN;
    const t = (await tokens()).find((x) => x.prefix === prefixOf(token))!;
    expect((await call('DELETE', `/api/v1/worker-tokens/${t.id}`, adminKey)).status).toBe(200);

    const p = await restart(chart);
    const [line] = tokenLines(p);
    expect(JSON.parse(line!)).toMatchObject({
      level: 'error',
      msg: expect.stringMatching(
        /was revoked at .* never re-enabled.*into AGENTFLEET_BOOTSTRAP_WORKER_TOKEN/,
      ),
    });
    expect((await fetch(`${cp.url}/readyz`)).status).toBe(200);
    expect((await tokens()).find((x) => x.id === t.id)?.state).toBe('revoked');
    expect((await register(token, 'after-revoke')).status).toBe(401);
  });

  it.each([
    [
      'AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS',
      { AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS: '0' },
    ],
    ['AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES', { AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES: 'execute,fly' }],
    [
      'AGENTFLEET_BOOTSTRAP_WORKER_TOKEN',
      { AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: `awt_short_${secretOf(chartToken())}` },
    ],
  ])('stops start-up on a bad %s, naming it and never printing the token', async (name, bad) => {
    await stop();
    const env = { ...chart, ...bad };
    const p = spawnNode(CONTROL_PLANE_ENTRY, {
      AGENTFLEET_PORT: String(await freePort()),
      ...baseEnv(),
      ...env,
    });
    const exit = await p.exited;
    expect(exit.code).toBe(1);
    expect(p.output()).toMatch(
      new RegExp(`control plane failed to start: invalid configuration:\\n  ${name}`),
    );
    expect(p.output()).not.toContain(secretOf(env.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN));
  });
});
