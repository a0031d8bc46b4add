/**
 * `npm start`: the whole system on this machine — the control plane and one worker against the local
 * PostgreSQL and Redis, with demo data — and prints the admin key and the worker once it is online.
 * Ctrl-C stops both cleanly. Credentials of the demo live in .agentfleet/quickstart.json (mode 0600).
 */
import 'reflect-metadata';
import { BootstrapInstanceUseCase } from '@agentfleet/access';
import { NodeCredentialHasher, generateSecretKey } from '@agentfleet/infra-crypto';
import {
  TypeormUnitOfWork,
  accessRepositories,
  createDataSource,
  runMigrations,
} from '@agentfleet/infra-persistence';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { Client } from 'pg';

const ROOT = join(__dirname, '../../..');
const STATE_DIR = join(ROOT, '.agentfleet');
const STATE_FILE = join(STATE_DIR, 'quickstart.json');

const databaseUrl = process.env['AGENTFLEET_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/agentfleet';
const port = Number(process.env['AGENTFLEET_PORT'] ?? 8080);
const baseUrl = `http://127.0.0.1:${port}`;

interface State {
  /** AES-256-GCM key for secrets at rest (engine API keys), made once for this machine. */
  secretKeys?: string;
  adminKey?: string;
  workerToken?: string;
  workerTokenId?: string;
}

function readState(): State {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as State;
  } catch {
    return {};
  }
}
function writeState(s: State) {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(STATE_FILE, JSON.stringify(s, null, 2), { mode: 0o600 });
  chmodSync(STATE_FILE, 0o600);
}

async function ensureDatabase() {
  const u = new URL(databaseUrl);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = '/postgres';
  const c = new Client({ connectionString: u.toString() });
  await c.connect();
  try {
    const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!found.rowCount) {
      await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      log(`created database ${name}`);
    }
  } finally {
    await c.end();
  }
}

/** Migrations, then an admin key: the first start prints a new one; later starts reuse the saved one. */
async function prepareDatabase(state: State): Promise<string> {
  const ds = createDataSource({ url: databaseUrl, poolSize: 2, applicationName: 'agentfleet-quickstart' });
  await ds.initialize();
  try {
    const applied = await runMigrations(ds);
    if (applied.length) log(`applied migrations: ${applied.join(', ')}`);
    const boot = new BootstrapInstanceUseCase(
      new TypeormUnitOfWork(ds, accessRepositories),
      new NodeCredentialHasher(),
    );
    const fresh = await boot.ifEmpty();
    if (fresh) return fresh.adminKey;
    if (state.adminKey && (await keyIsUsable(ds, state.adminKey))) return state.adminKey;
    return (await boot.always()).adminKey;
  } finally {
    await ds.destroy();
  }
}

async function keyIsUsable(ds: import('typeorm').DataSource, key: string): Promise<boolean> {
  const prefix = key.split('_')[1] ?? '';
  const rows = await ds.query<{ ok: boolean }[]>(
    `SELECT (is_active AND (expires_at IS NULL OR expires_at > now()) AND instance_admin) AS ok FROM api_keys WHERE prefix = $1`,
    [prefix],
  );
  return rows[0]?.ok === true;
}

async function api<T>(
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

let dockerUp = false;

async function ensureTarget(adminKey: string, body: Record<string, unknown>) {
  const r = await api(adminKey, 'POST', '/api/v1/execution-targets', body);
  if (r.status !== 201 && r.status !== 409) throw new Error(`creating target ${String(body['name'])}: ${r.status}`);
}

/** Docker is optional for the quick start: when its socket answers, the agent-runtime image is built. */
async function prepareDocker(): Promise<boolean> {
  const up = await new Promise<boolean>((resolve) => {
    const req = httpRequest({ socketPath: '/var/run/docker.sock', path: '/_ping', timeout: 2000 }, (res) => resolve(res.statusCode === 200));
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
  if (!up) {
    log('Docker is not running: jobs run as local processes (pool "default")');
    return false;
  }
  log('building the agent-runtime image (cached when unchanged)');
  await new Promise<void>((resolve, reject) => {
    const b = spawn(process.execPath, [join(ROOT, 'dist/tools/runtime-image/build.js')], { stdio: 'inherit' });
    b.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runtime image build exited ${code}`))));
  });
  return true;
}

async function seedDemo(adminKey: string, state: State): Promise<State> {
  for (const u of [
    { email: 'alice@example.com', name: 'Alice Admin', roles: ['admin'] },
    { email: 'bob@example.com', name: 'Bob Operator', roles: ['operator'] },
    { email: 'carol@example.com', name: 'Carol Viewer', roles: ['viewer'] },
  ]) {
    const r = await api(adminKey, 'POST', '/api/v1/users', u);
    if (r.status !== 201 && r.status !== 409) throw new Error(`seeding user ${u.email}: ${r.status}`);
  }
  // where jobs run: local processes everywhere, and Docker when an engine answers (its image built locally)
  await ensureTarget(adminKey, { name: 'local-processes', type: 'process', worker_pool: 'default' });
  if (dockerUp) {
    await ensureTarget(adminKey, { name: 'local-docker', type: 'docker', worker_pool: 'docker', allowed_images: ['agentfleet/*'] });
  }
  if (state.workerTokenId) {
    const t = await api<{ state: string }>(adminKey, 'GET', `/api/v1/worker-tokens/${state.workerTokenId}`);
    if (t.status === 200 && t.body.state === 'active' && state.workerToken) return state;
  }
  const created = await api<{ id: string; token: string }>(adminKey, 'POST', '/api/v1/worker-tokens', {
    name: 'quickstart worker',
    labels: { env: 'demo' },
    capabilities: ['execute', 'ingest', 'supervise'],
    pools: ['default', 'docker'],
    max_concurrent_tasks: 4,
  });
  if (created.status !== 201) throw new Error(`creating the demo worker token: ${created.status}`);
  return { ...state, workerToken: created.body.token, workerTokenId: created.body.id };
}

const children: ChildProcess[] = [];
let shuttingDown = false;

function start(name: string, entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', join(ROOT, 'dist', entry)], {
    env: { ...process.env, AGENTFLEET_LOG_FORMAT: process.env['AGENTFLEET_LOG_FORMAT'] ?? 'pretty', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // own process group: Ctrl-C reaches only this script, which stops the worker before the control plane
    detached: true,
  });
  const prefix = `[${name}] `;
  const relay = (stream: NodeJS.WriteStream) => (d: Buffer) =>
    stream.write(
      d
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => prefix + l + '\n')
        .join(''),
    );
  child.stdout?.on('data', relay(process.stdout));
  child.stderr?.on('data', relay(process.stderr));
  child.on('exit', (code, signal) => {
    if (!shuttingDown) {
      log(`${name} exited unexpectedly (${signal ?? code}); stopping`);
      void shutdown(1);
    }
  });
  children.push(child);
  return child;
}

async function shutdown(code: number) {
  if (shuttingDown) return;
  shuttingDown = true;
  // the worker first, so it deregisters while the control plane still answers
  for (const c of [...children].reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  }
  process.exit(code);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function log(msg: string) {
  process.stdout.write(`[quickstart] ${msg}\n`);
}

async function main() {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  await ensureDatabase();
  dockerUp = await prepareDocker();
  let state = readState();
  state.secretKeys ??= process.env['AGENTFLEET_SECRET_KEYS'] ?? generateSecretKey('quickstart');
  const adminKey = await prepareDatabase(state);
  state = { ...state, adminKey };
  writeState(state);

  start('control-plane', 'apps/control-plane/src/main.js', {
    AGENTFLEET_DATABASE_URL: databaseUrl,
    AGENTFLEET_PORT: String(port),
    AGENTFLEET_BOOTSTRAP_ON_START: 'false',
    AGENTFLEET_SECRET_KEYS: state.secretKeys ?? '',
  });
  await waitFor('the control plane to be ready', async () =>
    (await fetch(`${baseUrl}/readyz`)).ok ? true : undefined,
  );
  state = await seedDemo(adminKey, state);
  writeState(state);

  start('worker', 'apps/worker/src/main.js', {
    AGENTFLEET_WORKER_TOKEN: state.workerToken ?? '',
    AGENTFLEET_CONTROL_PLANE_URL: baseUrl,
    AGENTFLEET_WORKER_INSTANCE_ID: 'quickstart-worker-1',
    AGENTFLEET_WORKER_LABELS: 'zone=local',
    AGENTFLEET_WORKER_RUNTIMES: dockerUp ? 'process,docker' : 'process',
  });
  const worker = await waitFor('the worker to be online', async () => {
    const r = await api<{ items: { id: string; instance_id: string; status: string; live: unknown }[] }>(
      adminKey,
      'GET',
      '/api/v1/admin/workers',
    );
    return r.body.items.find(
      (w) => w.instance_id === 'quickstart-worker-1' && w.status === 'online' && w.live,
    );
  });

  process.stdout.write(
    [
      '',
      '──────────────────────────────────────────────────────────────────────',
      ' AgentFleet is running',
      `   control plane   ${baseUrl}   (OpenAPI docs: ${baseUrl}/docs)`,
      `   admin API key   ${adminKey}`,
      `   worker          ${worker.id}  online  (quickstart-worker-1)`,
      '',
      ' Try:',
      `   export AF_KEY=${adminKey}`,
      `   curl -s -H "Authorization: Bearer $AF_KEY" ${baseUrl}/api/v1/admin/workers`,
      `   curl -s -H "Authorization: Bearer $AF_KEY" -H 'content-type: application/json' ${baseUrl}/api/v1/jobs \\`,
      `     -d '{"command":["node","-e","console.log(JSON.stringify({v:1,type:\\"result\\",output:42}))"]}'`,
      `   curl -sN -H "Authorization: Bearer $AF_KEY" ${baseUrl}/api/v1/jobs/<id>/events`,
      ' Ctrl-C stops the worker and the control plane.',
      '──────────────────────────────────────────────────────────────────────',
      '',
    ].join('\n'),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`[quickstart] ${e instanceof Error ? e.message : String(e)}\n`);
  void shutdown(1);
  if (!children.length) process.exit(1);
});
