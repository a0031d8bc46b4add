import { BootstrapInstanceUseCase } from '@agentfleet/access';
import type { WorkerRegisterRequest } from '@agentfleet/contracts';
import { type Principal, systemClock } from '@agentfleet/domain';
import {
  AuthenticateWorkerTokenUseCase,
  type FleetRepositories,
  ManageWorkerTokensUseCase,
  PROVISIONED_WORKER_TOKEN_CREATOR,
  type ProvisionWorkerTokenCommand,
  ProvisionWorkerTokenUseCase,
  RegisterWorkerUseCase,
  type WorkerBeat,
} from '@agentfleet/fleet';
import { NodeCredentialHasher } from '@agentfleet/infra-crypto';
import {
  TypeormUnitOfWork,
  accessRepositories,
  createDataSource,
  fleetRepositories,
} from '@agentfleet/infra-persistence';
import { RedisFleetLiveness, RedisHeartbeatSender, RedisKeys } from '@agentfleet/infra-redis';
import { type TestDatabase, type TestRedis, createTestDatabase, createTestRedis } from '@agentfleet/testing';
import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';

/**
 * ProvisionWorkerTokenUseCase against real PostgreSQL and Redis: what several control-plane replicas
 * do at start, and what a rotation does to the workers of the old token.
 */
const hasher = new NodeCredentialHasher();
const settings = { heartbeatIntervalMs: 5_000, gracePeriodMs: 15_000, redisKeyPrefix: '' };

let db: TestDatabase;
let redis: TestRedis;
let keys: RedisKeys;
/** One data source per "replica": separate pools, separate connections, like separate processes. */
const sources: DataSource[] = [];
let organizationId: string;
let adminKeyId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  redis = createTestRedis();
  keys = new RedisKeys(redis.prefix);
  for (let i = 0; i < 4; i++) {
    const ds = createDataSource({ url: db.url, poolSize: 3 });
    await ds.initialize();
    sources.push(ds);
  }
  const boot = await new BootstrapInstanceUseCase(
    new TypeormUnitOfWork(sources[0]!, accessRepositories),
    hasher,
  ).ifEmpty('default');
  organizationId = boot!.organizationId;
  adminKeyId = boot!.adminKeyId;
});

afterAll(async () => {
  await Promise.all(sources.map((ds) => ds.destroy()));
  await redis?.cleanup();
  await db?.drop();
});

const ds = () => sources[0]!;
const uowOf = (d: DataSource) => new TypeormUnitOfWork<FleetRepositories>(d, fleetRepositories);
const liveness = () => new RedisFleetLiveness(redis.redis, keys);
/** The use case as one replica builds it. */
const replica = (i = 0) =>
  new ProvisionWorkerTokenUseCase(uowOf(sources[i]!), hasher, liveness(), systemClock);

let n = 0;
/** A configuration of its own per test (its own token name), so tests do not rotate each other's tokens. */
function config(over: Partial<ProvisionWorkerTokenCommand> = {}): ProvisionWorkerTokenCommand {
  n++;
  return {
    token: hasher.issue('awt').plaintext,
    organization: 'default',
    name: `helm-bootstrap-${n}`,
    labels: { cluster: 'eu-1' },
    capabilities: ['execute', 'ingest', 'supervise'],
    maxConcurrentTasks: 4,
    pools: ['default'],
    ...over,
  };
}
const prefixOf = (token: string) => token.split('_')[1]!;

async function tokenRow(token: string) {
  const rows = await ds().query<Record<string, unknown>[]>('SELECT * FROM worker_tokens WHERE prefix = $1', [
    prefixOf(token),
  ]);
  return rows[0];
}
async function auditOf(tokenId: string) {
  return ds().query<{ action: string; details: Record<string, unknown> }[]>(
    `SELECT action, details FROM audit_log WHERE resource_type = 'worker_token' AND resource_id = $1 ORDER BY created_at, id`,
    [tokenId],
  );
}

const admin = (): Principal => ({
  kind: 'api_key',
  apiKeyId: adminKeyId,
  organizationId,
  userId: null,
  role: 'admin',
  scopes: [],
  instanceAdmin: false,
});

function registration(instance: string): WorkerRegisterRequest {
  return {
    instance_id: instance,
    hostname: instance,
    version: '0.1.0-int',
    protocol_version: 1,
    labels: {},
    capacity: { memory_mb: 1024, cpus: 1, runtimes: [] },
  };
}

/** A worker registering the way POST /api/v1/workers/register does: authenticate the token, then register. */
async function register(token: string, instance: string) {
  const auth = await new AuthenticateWorkerTokenUseCase(
    fleetRepositories(ds().manager).workerTokens,
    hasher,
    systemClock,
  ).execute(token);
  return new RegisterWorkerUseCase(uowOf(ds()), liveness(), settings, systemClock).execute(
    auth.principal,
    auth.token,
    registration(instance),
    null,
  );
}

function beat(workerId: string, tokenId: string): Promise<{ outcome: string }> {
  const b: WorkerBeat = {
    workerId,
    tokenId,
    ttlMs: 15_000,
    status: 'online',
    version: '0.1.0-int',
    hostname: 'h',
    running: [],
    freeSlots: 1,
  };
  return new RedisHeartbeatSender(redis.redis, keys).beat(b);
}

describe('bootstrap worker token provisioning (real PostgreSQL and Redis)', () => {
  it('creates one token and one audit entry when several replicas start at once, storing only the SHA-256 hash', async () => {
    const cfg = config();
    const results = await Promise.all(sources.map((_, i) => replica(i).execute(cfg)));
    expect(results.map((r) => r.outcome).sort()).toEqual(['created', 'unchanged', 'unchanged', 'unchanged']);

    const row = await tokenRow(cfg.token);
    expect(row).toMatchObject({
      organization_id: organizationId,
      name: cfg.name,
      prefix: prefixOf(cfg.token),
      token_hash: createHash('sha256').update(cfg.token).digest('hex'),
      capabilities: ['execute', 'ingest', 'supervise'],
      pools: ['default'],
      max_concurrent_tasks: 4,
      labels: { cluster: 'eu-1' },
      created_by: PROVISIONED_WORKER_TOKEN_CREATOR,
      revoked_at: null,
      expires_at: null,
    });
    const secret = cfg.token.split('_').slice(2).join('_');
    const everything = await ds().query('SELECT t.*, a.* FROM worker_tokens t, audit_log a');
    expect(JSON.stringify(everything)).not.toContain(secret);
    const audit = await auditOf(row!['id'] as string);
    expect(audit).toEqual([
      {
        action: 'worker_token.created',
        details: expect.objectContaining({ actor: PROVISIONED_WORKER_TOKEN_CREATOR, name: cfg.name }),
      },
    ]);
  });

  it('writes nothing on a second start with the same configuration: same row, same updated_at, no new audit row', async () => {
    const cfg = config();
    await replica().execute(cfg);
    const before = await tokenRow(cfg.token);
    const auditBefore = await auditOf(before!['id'] as string);
    const r = await replica(1).execute({ ...cfg, pools: [...cfg.pools], labels: { ...cfg.labels } });
    expect(r.outcome).toBe('unchanged');
    expect(await tokenRow(cfg.token)).toEqual(before);
    expect(await auditOf(before!['id'] as string)).toEqual(auditBefore);
  });

  it('updates changed settings of the same token in place and audits the change', async () => {
    const cfg = config();
    await replica().execute(cfg);
    const id = (await tokenRow(cfg.token))!['id'] as string;
    const r = await replica(2).execute({
      ...cfg,
      capabilities: ['execute'],
      pools: ['default', 'gpu-a100'],
      maxConcurrentTasks: 8,
      labels: { cluster: 'eu-2' },
    });
    expect(r.outcome).toBe('updated');
    expect(await tokenRow(cfg.token)).toMatchObject({
      id,
      capabilities: ['execute'],
      pools: ['default', 'gpu-a100'],
      max_concurrent_tasks: 8,
      labels: { cluster: 'eu-2' },
      revoked_at: null,
    });
    const audit = await auditOf(id);
    expect(audit.map((a) => a.action)).toEqual(['worker_token.created', 'worker_token.updated']);
    expect(audit[1]!.details).toEqual({
      actor: PROVISIONED_WORKER_TOKEN_CREATOR,
      changes: {
        capabilities: { from: ['execute', 'ingest', 'supervise'], to: ['execute'] },
        pools: { from: ['default'], to: ['default', 'gpu-a100'] },
        max_concurrent_tasks: { from: 4, to: 8 },
        labels: { from: { cluster: 'eu-1' }, to: { cluster: 'eu-2' } },
      },
    });
    // a worker registering now gets the new settings
    const w = await register(cfg.token, 'after-update');
    expect(w).toMatchObject({ capabilities: ['execute'], pools: ['default', 'gpu-a100'], concurrency: 8 });
  });

  it("rotation revokes the old provisioned token: its worker's heartbeat is refused and it cannot register, while a hand-made token of the same name keeps working", async () => {
    const old = config();
    await replica().execute(old);
    const oldWorker = await register(old.token, 'chart-worker-0');
    expect((await beat(oldWorker.worker_id, oldWorker.token_id)).outcome).toBe('ok');
    const manual = await new ManageWorkerTokensUseCase(uowOf(ds()), hasher, liveness(), systemClock).create(
      admin(),
      { name: old.name, labels: {}, capabilities: ['execute'], max_concurrent_tasks: 1, pools: ['default'] },
      null,
    );
    const manualWorker = await register(manual.token, 'hand-made-0');

    // the Secret got a new value; replicas start together
    const next = { ...old, token: hasher.issue('awt').plaintext };
    const results = await Promise.all([replica(1).execute(next), replica(2).execute(next)]);
    expect(results.map((r) => r.outcome).sort()).toEqual(['rotated', 'unchanged']);
    const rotated = results.find((r) => r.outcome === 'rotated');
    if (rotated?.outcome !== 'rotated') throw new Error('no rotation');
    expect(rotated.revoked.map((x) => [x.token.id, x.workersStopped])).toEqual([[oldWorker.token_id, 1]]);

    const oldRow = await tokenRow(old.token);
    expect(oldRow!['revoked_at']).toBeInstanceOf(Date);
    expect((await tokenRow(next.token))!['revoked_at']).toBeNull();
    expect(await auditOf(oldWorker.token_id)).toEqual([
      expect.objectContaining({ action: 'worker_token.created' }),
      {
        action: 'worker_token.revoked',
        details: {
          actor: PROVISIONED_WORKER_TOKEN_CREATOR,
          reason: 'rotated',
          replaced_by: rotated.token.id,
        },
      },
    ]);
    // the existing revoke path: Redis refuses the old token's heartbeats, the worker is offline and told to stop
    expect((await beat(oldWorker.worker_id, oldWorker.token_id)).outcome).toBe('revoked');
    const [w] = await ds().query<{ status: string }[]>('SELECT status FROM workers WHERE id = $1', [
      oldWorker.worker_id,
    ]);
    expect(w!.status).toBe('offline');
    const control = await redis.redis.lrange(keys.workerTasks(oldWorker.worker_id), 0, -1);
    expect(control.map((c) => JSON.parse(c) as { type: string })).toEqual([
      expect.objectContaining({ type: 'stop' }),
    ]);
    await expect(register(old.token, 'chart-worker-0')).rejects.toThrow(/revoked/);

    // the token made through the API under the same name is not the provisioning's to revoke
    expect((await ds().query('SELECT revoked_at FROM worker_tokens WHERE id = $1', [manual.id]))[0]).toEqual({
      revoked_at: null,
    });
    expect((await beat(manualWorker.worker_id, manualWorker.token_id)).outcome).toBe('ok');
    // and the chart's workers register with the new value
    expect((await register(next.token, 'chart-worker-0')).token_id).toBe(rotated.token.id);
  });

  it('never un-revokes a token revoked through the API: reports it and writes nothing, on every start', async () => {
    const cfg = config();
    await replica().execute(cfg);
    const id = (await tokenRow(cfg.token))!['id'] as string;
    await new ManageWorkerTokensUseCase(uowOf(ds()), hasher, liveness(), systemClock).revoke(
      admin(),
      id,
      null,
    );
    const before = await tokenRow(cfg.token);
    const auditBefore = await auditOf(id);

    for (const c of [cfg, { ...cfg, maxConcurrentTasks: 16 }]) {
      const r = await replica(3).execute(c);
      expect(r.outcome).toBe('revoked');
    }
    expect(await tokenRow(cfg.token)).toEqual(before);
    expect(await auditOf(id)).toEqual(auditBefore);
    await expect(register(cfg.token, 'revoked-0')).rejects.toThrow(/revoked/);
  });

  it('reports an organization that does not exist and creates nothing', async () => {
    const cfg = config({ organization: 'no-such-org' });
    expect(await replica().execute(cfg)).toEqual({
      outcome: 'organization_not_found',
      organization: 'no-such-org',
    });
    expect(await tokenRow(cfg.token)).toBeUndefined();
  });
});
