import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Pool, type QueryResultRow } from 'pg';
import {
  TEST_REDIS_URL,
  type TestDatabase,
  type TestRedis,
  createTestDatabase,
  createTestRedis,
} from '@agentfleet/testing';
import { repoRoot, sleep } from './support';

/**
 * The execution benchmark's system under test, started the way an operator would: the built control
 * plane and worker (dist/) as child processes on a fresh migrated database and a Redis key prefix of
 * their own, talking HTTP and Redis. Children, so each one's CPU can be read from /proc on its own.
 */

export interface StackOptions {
  /** The worker's AGENTFLEET_WORKER_SLOTS (and its token's max_concurrent_tasks). */
  workerSlots: number;
  /** Log level of both processes (info logs two lines per job on the worker and one per request on the control plane). */
  logLevel: string;
  /** Keep-alive sockets of the HTTP client. */
  httpSockets: number;
  controlPlaneEnv?: Record<string, string>;
}

export interface HttpReply {
  status: number;
  body: unknown;
}

/** JSON over one keep-alive agent (the submitters share its sockets). */
export class JsonClient {
  readonly agent: Agent;
  constructor(
    private readonly base: URL,
    sockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  send(method: string, path: string, key: string, body?: unknown): Promise<HttpReply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${key}`,
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: kept as text for the error message
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  close() {
    this.agent.destroy();
  }
}

export interface Child {
  name: string;
  proc: ChildProcess;
  /** The last 64 KiB the process printed. */
  output(): string;
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * With AGENTFLEET_BENCH_CPU_PROFILE=<dir>, the children write V8 CPU profiles there when they exit
 * (open them in Chrome DevTools or speedscope): how the bottleneck of the execution path was found.
 */
const PROFILE_DIR = process.env['AGENTFLEET_BENCH_CPU_PROFILE'];

/** Children still running: killed when this process exits, however it exits (a crash skips the finally blocks). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Registers a child to be killed if this process exits before it. */
export function killOnExit(proc: ChildProcess): void {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
}

export function spawnChild(name: string, entry: string, env: Record<string, string>): Child {
  const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const proc = spawn(
    process.execPath,
    [...profile, '--enable-source-maps', join(repoRoot(), 'dist', entry)],
    {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  killOnExit(proc);
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 65_536) out = out.slice(-65_536);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  return {
    name,
    proc,
    output: () => out,
    exited,
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
  children: Child[],
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const c of children)
      if (c.proc.exitCode !== null || c.proc.signalCode !== null)
        throw new Error(`${c.name} exited while waiting for ${what}:\n${c.output().slice(-4000)}`);
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      const tails = children.map((c) => `--- ${c.name} ---\n${c.output().slice(-3000)}`).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${tails}`);
    }
    await sleep(100);
  }
}

export interface Stack {
  db: TestDatabase;
  redis: TestRedis;
  /** A query on the stack's database through the bench's own small pool (COUNT polls, figures). */
  query<R extends QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** How many queries the bench ran there: each is a transaction in PostgreSQL's statistics. */
  readonly ownQueries: number;
  http: JsonClient;
  adminKey: string;
  controlPlane: Child;
  worker: Child;
  targetId: string;
  workerId: string;
  /**
   * Stops the worker, the control plane and the bench's pool: every backend of the database exits, which
   * flushes its statistics (PostgreSQL 15 otherwise flushes an idle backend's only after 10 s).
   */
  stopProcesses(): Promise<void>;
  /** Stops everything still running, drops the database and the Redis prefix. */
  close(): Promise<void>;
}

const API_KEY = /afk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}/;

/** application_name of the bench's own connections: its polling is told apart from the stack's work. */
export const BENCH_APPLICATION_NAME = 'agentfleet-bench-execution';

export async function startStack(o: StackOptions): Promise<Stack> {
  const db = await createTestDatabase();
  const redis = createTestRedis();
  const pg = new Pool({ connectionString: db.url, max: 4, application_name: BENCH_APPLICATION_NAME });
  let controlPlane: Child | undefined;
  let worker: Child | undefined;
  let http: JsonClient | undefined;
  let ownQueries = 0;
  let pgEnded = false;
  const query = async <R extends QueryResultRow>(sql: string, params?: unknown[]) => {
    ownQueries++;
    return (await pg.query<R>(sql, params)).rows;
  };
  const stopProcesses = async () => {
    await worker?.stop();
    await controlPlane?.stop();
    if (!pgEnded) {
      pgEnded = true;
      await pg.end();
    }
  };
  const close = async () => {
    http?.close();
    await stopProcesses().catch(() => undefined);
    await db.drop().catch((e: unknown) => console.error(`could not drop database ${db.name}: ${String(e)}`));
    await redis
      .cleanup()
      .catch((e: unknown) => console.error(`could not clean Redis prefix ${redis.prefix}: ${String(e)}`));
  };
  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    controlPlane = spawnChild('control plane', 'apps/control-plane/src/main.js', {
      AGENTFLEET_HOST: '127.0.0.1',
      AGENTFLEET_PORT: String(port),
      AGENTFLEET_DATABASE_URL: db.url,
      AGENTFLEET_REDIS_URL: TEST_REDIS_URL,
      AGENTFLEET_REDIS_PREFIX: redis.prefix,
      AGENTFLEET_MIGRATE_ON_START: 'false', // the database is a copy of the migrated template
      AGENTFLEET_LOG_LEVEL: o.logLevel,
      ...o.controlPlaneEnv,
    });
    const cp = controlPlane;
    const adminKey = await until('the control plane', 30_000, () => API_KEY.exec(cp.output())?.[0], [cp]);
    http = new JsonClient(new URL(url), o.httpSockets);
    const client = http;
    await until(
      'the control plane to listen',
      30_000,
      async () => ((await client.send('GET', '/healthz', adminKey)).status === 200 ? true : undefined),
      [cp],
    );
    const target = await client.send('POST', '/api/v1/execution-targets', adminKey, {
      name: 'bench-process',
      type: 'process',
      worker_pool: 'default',
      capacity: { max_memory_mb: 4096, max_cpu: 4, max_concurrent: 10_000 },
    });
    if (target.status !== 201)
      throw new Error(`creating the target: ${target.status} ${JSON.stringify(target.body)}`);
    const token = await client.send('POST', '/api/v1/worker-tokens', adminKey, {
      name: 'bench-worker',
      capabilities: ['execute'],
      max_concurrent_tasks: o.workerSlots,
      pools: ['default'],
    });
    if (token.status !== 201)
      throw new Error(`creating the token: ${token.status} ${JSON.stringify(token.body)}`);
    worker = spawnChild('worker', 'apps/worker/src/main.js', {
      AGENTFLEET_WORKER_TOKEN: (token.body as { token: string }).token,
      AGENTFLEET_CONTROL_PLANE_URL: url,
      AGENTFLEET_REDIS_URL: TEST_REDIS_URL,
      AGENTFLEET_WORKER_INSTANCE_ID: 'bench-worker-1',
      AGENTFLEET_WORKER_RUNTIMES: 'process',
      AGENTFLEET_WORKER_SLOTS: String(o.workerSlots),
      AGENTFLEET_WORKER_HEALTH_PORT: '0',
      AGENTFLEET_SHUTDOWN_GRACE_MS: '5000',
      AGENTFLEET_LOG_LEVEL: o.logLevel,
    });
    const w = worker;
    const workerId = await until(
      'the worker to register',
      30_000,
      async () =>
        (
          await query<{ id: string }>(
            `SELECT id FROM workers WHERE instance_id = 'bench-worker-1' AND status = 'online'`,
          )
        )[0]?.id,
      [cp, w],
    );
    return {
      db,
      redis,
      query,
      get ownQueries() {
        return ownQueries;
      },
      http: client,
      adminKey,
      controlPlane: cp,
      worker: w,
      targetId: (target.body as { id: string }).id,
      workerId,
      stopProcesses,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** CPU time (ms, user + system) a process has used so far, from /proc; undefined once it is gone. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) start at the last ')'
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Read and write system calls a process made so far (/proc/<pid>/io), or undefined when it is gone. */
export function processSyscalls(pid: number): { reads: number; writes: number } | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const v = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? Number.NaN);
    return { reads: v('syscr'), writes: v('syscw') };
  } catch {
    return undefined;
  }
}

/** USER_HZ on Linux (getconf CLK_TCK): 100 on every mainstream kernel configuration. */
const CLOCK_TICKS = 100;

/** Busy and total CPU time of the whole machine (ms, all cores), from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: ((total - idle) * 1000) / CLOCK_TICKS, total: (total * 1000) / CLOCK_TICKS };
}
