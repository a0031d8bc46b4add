import { randomBytes } from 'node:crypto';
import type { Principal, WorkerPrincipal } from '@agentfleet/domain';
import {
  type ExecutionRepositories,
  ManageSecretsUseCase,
  type NewExecutionJob,
} from '@agentfleet/execution';
import { AesGcmSecretBox } from '@agentfleet/infra-crypto';
import { createTestDatabase, type TestDatabase } from '@agentfleet/testing';
import type { DataSource } from 'typeorm';
import { createDataSource } from './data-source';
import { OrganizationEntity } from './entities';
import { executionRepositories } from './typeorm-execution.repositories';
import { TypeormUnitOfWork } from './typeorm-unit-of-work';

/** Organization secrets against the real schema: upsert, tenant scoping, audit in the same transaction. */
let db: TestDatabase;
let ds: DataSource;
let uow: TypeormUnitOfWork<ExecutionRepositories>;
let org: string;
let otherOrg: string;

const VALUE = `sk-int-${randomBytes(6).toString('hex')}`;
const box = new AesGcmSecretBox(`k1:${randomBytes(32).toString('base64')}`);
const KEY_A = { apiKeyId: '00000000-0000-4000-8000-0000000000aa', userId: null };
const KEY_B = { apiKeyId: '00000000-0000-4000-8000-0000000000bb', userId: null };

const principal = (organizationId: string, apiKeyId = KEY_A.apiKeyId): Principal => ({
  kind: 'api_key',
  apiKeyId,
  organizationId,
  userId: null,
  role: 'admin',
  scopes: ['secrets:read', 'secrets:write'],
  instanceAdmin: false,
});

async function newOrg(): Promise<string> {
  const o = await ds.manager.save(
    OrganizationEntity,
    ds.manager.create(OrganizationEntity, { name: `org-${randomBytes(4).toString('hex')}` }),
  );
  return o.id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  ds = createDataSource({ url: db.url, poolSize: 4 });
  await ds.initialize();
  uow = new TypeormUnitOfWork(ds, executionRepositories);
  org = await newOrg();
  otherOrg = await newOrg();
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

const name = () => `S_${randomBytes(4).toString('hex').toUpperCase()}`;

describe('secret repository', () => {
  it('put creates, then replaces the value; creator kept, updater and updated_at move; description kept when omitted', async () => {
    const n = name();
    const first = await uow.run((r) =>
      r.secrets.put(org, n, { valueSealed: 'sealed-1', description: 'first', by: KEY_A }),
    );
    await new Promise((r) => setTimeout(r, 20));
    const second = await uow.run((r) => r.secrets.put(org, n, { valueSealed: 'sealed-2', by: KEY_B }));
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.secret).toMatchObject({
      id: first.secret.id,
      valueSealed: 'sealed-2',
      description: 'first',
      createdByApiKeyId: KEY_A.apiKeyId,
      updatedByApiKeyId: KEY_B.apiKeyId,
    });
    expect(second.secret.updatedAt.getTime()).toBeGreaterThan(first.secret.updatedAt.getTime());
    expect(second.secret.createdAt.getTime()).toBe(first.secret.createdAt.getTime());
    const third = await uow.run((r) =>
      r.secrets.put(org, n, { valueSealed: 'sealed-3', description: 'third', by: KEY_A }),
    );
    expect(third.secret.description).toBe('third');
  });

  it('two first puts of one name at once end as one create and one replace, not a unique violation', async () => {
    const n = name();
    const both = await Promise.all([
      uow.run((r) => r.secrets.put(org, n, { valueSealed: 'a', by: KEY_A })),
      uow.run((r) => r.secrets.put(org, n, { valueSealed: 'b', by: KEY_B })),
    ]);
    expect(both.map((b) => b.created).sort()).toEqual([false, true]);
    expect(both[0].secret.id).toBe(both[1].secret.id);
  });

  it('names are unique per organization: the same name in another organization is another secret, unseen here', async () => {
    const n = name();
    await uow.run((r) => r.secrets.put(org, n, { valueSealed: 'mine', by: KEY_A }));
    const theirs = await uow.run((r) => r.secrets.put(otherOrg, n, { valueSealed: 'theirs', by: KEY_A }));
    expect(theirs.created).toBe(true);
    const seen = await uow.run(async (r) => ({
      one: await r.secrets.findByName(org, n),
      many: await r.secrets.findByNames(org, [n, 'NOPE']),
      existing: await r.secrets.existingNames(org, [n, 'NOPE']),
    }));
    expect(seen.one?.valueSealed).toBe('mine');
    expect(seen.many.map((s) => s.valueSealed)).toEqual(['mine']);
    expect(seen.existing).toEqual([n]);
    expect(await uow.run((r) => r.secrets.findByName(otherOrg, 'NOT_THERE'))).toBeUndefined();
  });

  it('lists an organization by name with its total, and deletes for good', async () => {
    const o = await newOrg();
    for (const n of ['C_KEY', 'A_KEY', 'B_KEY'])
      await uow.run((r) => r.secrets.put(o, n, { valueSealed: n, by: KEY_A }));
    const page = await uow.run((r) => r.secrets.list(o, { limit: 2, offset: 0 }));
    expect(page.total).toBe(3);
    expect(page.items.map((s) => s.name)).toEqual(['A_KEY', 'B_KEY']);
    const gone = await uow.run((r) => r.secrets.delete(o, 'B_KEY'));
    expect(gone?.name).toBe('B_KEY');
    expect(await uow.run((r) => r.secrets.delete(o, 'B_KEY'))).toBeUndefined();
    expect(await uow.run((r) => r.secrets.delete(otherOrg, 'A_KEY'))).toBeUndefined();
    expect((await uow.run((r) => r.secrets.list(o, { limit: 10, offset: 0 }))).total).toBe(2);
  });
});

describe('ManageSecretsUseCase on PostgreSQL', () => {
  const uc = () => new ManageSecretsUseCase(uow, box);

  it('seals the value at rest and writes the audit entry in the same transaction, without the value', async () => {
    const n = name();
    await uc().put(principal(org), n, { value: VALUE }, '127.0.0.1');
    const [row] = await ds.query<{ value_sealed: string }[]>(
      'SELECT value_sealed FROM secrets WHERE organization_id = $1 AND name = $2',
      [org, n],
    );
    expect(row!.value_sealed).toMatch(/^v1:k1:/);
    expect(row!.value_sealed).not.toContain(VALUE);
    const audit = await ds.query<{ action: string; details: unknown }[]>(
      `SELECT action, details FROM audit_log WHERE organization_id = $1 AND resource_type = 'secret' AND resource_id = $2`,
      [org, n],
    );
    expect(audit.map((a) => a.action)).toEqual(['secret.created']);
    expect(JSON.stringify(audit)).not.toContain(VALUE);
  });

  it('writes nothing when the audit entry cannot be written', async () => {
    const n = name();
    const failingAudit = new TypeormUnitOfWork(ds, (em) => ({
      ...executionRepositories(em),
      audit: {
        record: () => Promise.reject(new Error('audit_log unavailable')),
        recordMany: () => Promise.reject(new Error('audit_log unavailable')),
      },
    }));
    const failing = new ManageSecretsUseCase(failingAudit, box);
    await expect(failing.put(principal(org), n, { value: VALUE }, null)).rejects.toThrow(
      'audit_log unavailable',
    );
    expect(await uow.run((r) => r.secrets.findByName(org, n))).toBeUndefined();
    await uc().put(principal(org), n, { value: VALUE }, null);
    await expect(failing.delete(principal(org), n, null)).rejects.toThrow('audit_log unavailable');
    expect(await uow.run((r) => r.secrets.findByName(org, n))).toBeDefined();
  });

  it("resolves a stored job's references for a worker of its organization; the job row keeps only the reference", async () => {
    const n = name();
    await uc().put(principal(org), n, { value: VALUE }, null);
    const job: NewExecutionJob = {
      organizationId: org,
      supervisorRunId: null,
      targetId: null,
      engineId: null,
      pool: 'default',
      image: 'agentfleet/agent-runtime:dev',
      command: ['true'],
      prompt: null,
      env: { MODE: 'x', API_KEY: { secret: n } },
      maxRetries: 0,
      retryBackoffMs: 1000,
      oomRetryEnabled: false,
      oomRetryMaxMemoryMb: null,
      memoryLimitMb: 128,
      cpu: 0.5,
      pidsLimit: 64,
      timeoutSeconds: 60,
      network: false,
      priority: 100,
      idempotencyKey: null,
      metadata: {},
      executionTarget: {},
    };
    const [stored] = await uow.run((r) => r.jobs.createMany([job]));
    const worker: WorkerPrincipal = {
      kind: 'worker_token',
      tokenId: '00000000-0000-4000-8000-0000000000cc',
      organizationId: org,
    };
    expect(await uc().forWorker(worker, ['default'], stored!.job.id, 1)).toEqual({ env: { API_KEY: VALUE } });
    const [row] = await ds.query<{ env: unknown }[]>('SELECT env FROM execution_jobs WHERE id = $1', [
      stored!.job.id,
    ]);
    expect(row!.env).toEqual({ MODE: 'x', API_KEY: { secret: n } });
    await expect(
      uc().forWorker({ ...worker, organizationId: otherOrg }, ['default'], stored!.job.id, 1),
    ).rejects.toThrow('not found');
  });
});
