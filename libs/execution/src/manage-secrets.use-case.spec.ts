import { randomBytes } from 'node:crypto';
import {
  ConflictError,
  NotFoundError,
  type Principal,
  type SecretBox,
  UnavailableError,
  type UnitOfWork,
  type WorkerPrincipal,
} from '@agentfleet/domain';
import { AesGcmSecretBox } from '@agentfleet/infra-crypto';
import type {
  ExecutionJobRecord,
  ExecutionRepositories,
  SecretRecord,
  SecretRepository,
} from './execution.ports';
import { ManageSecretsUseCase } from './manage-secrets.use-case';

const ORG = '00000000-0000-4000-8000-000000000001';
const OTHER_ORG = '00000000-0000-4000-8000-000000000002';
const JOB = '00000000-0000-4000-8000-0000000000a1';
const VALUE = 'sk-live-never-shown-7f3a';
const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

const admin = (organizationId = ORG): Principal => ({
  kind: 'api_key',
  apiKeyId: '00000000-0000-4000-8000-0000000000aa',
  organizationId,
  userId: '00000000-0000-4000-8000-0000000000ab',
  role: 'admin',
  scopes: ['secrets:read', 'secrets:write'],
  instanceAdmin: false,
});
const worker = (organizationId = ORG): WorkerPrincipal => ({
  kind: 'worker_token',
  tokenId: '00000000-0000-4000-8000-0000000000cc',
  organizationId,
});

/** Secrets in memory, with the repository's contract (unique per organization, scoped reads). */
function memorySecrets(): SecretRepository & { rows: SecretRecord[] } {
  const rows: SecretRecord[] = [];
  let n = 0;
  const find = (org: string, name: string) => rows.find((r) => r.organizationId === org && r.name === name);
  return {
    rows,
    async put(organizationId, name, s) {
      const existing = find(organizationId, name);
      if (existing) {
        existing.valueSealed = s.valueSealed;
        if (s.description !== undefined) existing.description = s.description;
        existing.updatedByApiKeyId = s.by.apiKeyId;
        existing.updatedByUserId = s.by.userId;
        existing.updatedAt = new Date(existing.updatedAt.getTime() + 1000);
        return { secret: { ...existing }, created: false };
      }
      const row: SecretRecord = {
        id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
        organizationId,
        name,
        valueSealed: s.valueSealed,
        description: s.description ?? null,
        createdByApiKeyId: s.by.apiKeyId,
        createdByUserId: s.by.userId,
        updatedByApiKeyId: s.by.apiKeyId,
        updatedByUserId: s.by.userId,
        createdAt: new Date(),
        updatedAt: new Date(),
      };
      rows.push(row);
      return { secret: { ...row }, created: true };
    },
    async findByName(org, name) {
      return find(org, name);
    },
    async findByNames(org, names) {
      return rows.filter((r) => r.organizationId === org && names.includes(r.name));
    },
    async existingNames(org, names) {
      return rows.filter((r) => r.organizationId === org && names.includes(r.name)).map((r) => r.name);
    },
    async list(org, page) {
      const mine = rows.filter((r) => r.organizationId === org);
      return { items: mine.slice(page.offset, page.offset + page.limit), total: mine.length };
    },
    async delete(org, name) {
      const r = find(org, name);
      if (r) rows.splice(rows.indexOf(r), 1);
      return r;
    },
  };
}

function setup(box: SecretBox = new AesGcmSecretBox(key('k1'))) {
  const secrets = memorySecrets();
  const audits: { action: string; resourceId: string | null; details?: Record<string, unknown> }[] = [];
  const jobs: ExecutionJobRecord[] = [];
  const repos = {
    secrets,
    jobs: {
      async findById(org: string, id: string) {
        return jobs.find((j) => j.organizationId === org && j.id === id);
      },
    },
    audit: {
      async record(e: (typeof audits)[number]) {
        audits.push(e);
      },
    },
  } as unknown as ExecutionRepositories;
  const uow: UnitOfWork<ExecutionRepositories> = { run: (work) => work(repos) };
  const addJob = (over: Partial<ExecutionJobRecord> = {}) => {
    const j = {
      id: JOB,
      organizationId: ORG,
      pool: 'default',
      status: 'queued',
      attempt: 1,
      env: { MODE: 'test', API_KEY: { secret: 'OPENAI_KEY' } },
      ...over,
    } as ExecutionJobRecord;
    jobs.push(j);
    return j;
  };
  return { uc: new ManageSecretsUseCase(uow, box), secrets, audits, addJob, box };
}

describe('ManageSecretsUseCase: the secrets API', () => {
  it('creates a secret, then replaces its value; each write audited without the value', async () => {
    const s = setup();
    const first = await s.uc.put(
      admin(),
      'OPENAI_KEY',
      { value: VALUE, description: 'prod key' },
      '10.0.0.1',
    );
    expect(first).toMatchObject({ created: true, secret: { name: 'OPENAI_KEY', description: 'prod key' } });
    const second = await s.uc.put(admin(), 'OPENAI_KEY', { value: 'rotated' }, null);
    expect(second).toMatchObject({ created: false, secret: { description: 'prod key' } });
    expect(s.audits.map((a) => [a.action, a.resourceId])).toEqual([
      ['secret.created', 'OPENAI_KEY'],
      ['secret.updated', 'OPENAI_KEY'],
    ]);
    expect(JSON.stringify([first, second, s.audits])).not.toContain(VALUE);
  });

  it('stores the value sealed, never in clear', async () => {
    const s = setup();
    await s.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null);
    expect(s.secrets.rows[0]!.valueSealed).toMatch(/^v1:k1:/);
    expect(s.secrets.rows[0]!.valueSealed).not.toContain(VALUE);
    expect(s.box.open(s.secrets.rows[0]!.valueSealed)).toBe(VALUE);
  });

  it('refuses to store a secret when the control plane has no secret key, naming value', async () => {
    const s = setup(new AesGcmSecretBox(undefined));
    await expect(s.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null)).rejects.toMatchObject({
      constructor: UnavailableError,
      field: 'value',
    });
    expect(s.secrets.rows).toHaveLength(0);
  });

  it('shows metadata only: name, description, when and by whom, never the value', async () => {
    const s = setup();
    await s.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null);
    const one = await s.uc.get(admin(), 'OPENAI_KEY');
    const all = await s.uc.list(admin(), { limit: 50, offset: 0 });
    expect(Object.keys(one).sort()).toEqual(
      [
        'created_at',
        'created_by',
        'description',
        'name',
        'organization_id',
        'updated_at',
        'updated_by',
      ].sort(),
    );
    expect(one.created_by).toEqual({ api_key_id: admin().apiKeyId, user_id: admin().userId });
    expect(all).toMatchObject({ total: 1, items: [{ name: 'OPENAI_KEY' }] });
    expect(JSON.stringify([one, all])).not.toContain(VALUE);
    expect(JSON.stringify([one, all])).not.toContain('v1:k1:');
  });

  it("treats another organization's secret as missing (404 on get and delete)", async () => {
    const s = setup();
    await s.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null);
    await expect(s.uc.get(admin(OTHER_ORG), 'OPENAI_KEY')).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.uc.delete(admin(OTHER_ORG), 'OPENAI_KEY', null)).rejects.toBeInstanceOf(NotFoundError);
    expect(await s.uc.list(admin(OTHER_ORG), { limit: 50, offset: 0 })).toEqual({ items: [], total: 0 });
    expect(s.secrets.rows).toHaveLength(1);
  });

  it('deletes a secret for good, audited; deleting it again is a 404', async () => {
    const s = setup();
    await s.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null);
    await s.uc.delete(admin(), 'OPENAI_KEY', null);
    expect(s.secrets.rows).toHaveLength(0);
    expect(s.audits.at(-1)).toMatchObject({ action: 'secret.deleted', resourceId: 'OPENAI_KEY' });
    await expect(s.uc.delete(admin(), 'OPENAI_KEY', null)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('ManageSecretsUseCase: resolution for the worker starting a job', () => {
  it('returns the opened values of the referenced variables only, and audits the names read', async () => {
    const s = setup();
    await s.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null);
    await s.uc.put(admin(), 'UNUSED', { value: 'other' }, null);
    s.addJob();
    expect(await s.uc.forWorker(worker(), ['default'], JOB, 1)).toEqual({ env: { API_KEY: VALUE } });
    expect(s.audits.at(-1)).toMatchObject({
      action: 'job.secrets_resolved',
      resourceId: JOB,
      details: { attempt: 1, secrets: ['OPENAI_KEY'], variables: ['API_KEY'] },
    });
    expect(JSON.stringify(s.audits)).not.toContain(VALUE);
  });

  it('opens a secret sealed before a key rotation (new key first, old key kept)', async () => {
    const k1 = key('k1');
    const before = setup(new AesGcmSecretBox(k1));
    await before.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null);
    const after = setup(new AesGcmSecretBox(`${key('k2')},${k1}`));
    after.secrets.rows.push(...before.secrets.rows);
    after.addJob();
    expect(await after.uc.forWorker(worker(), ['default'], JOB, 1)).toEqual({ env: { API_KEY: VALUE } });
    await after.uc.put(admin(), 'OPENAI_KEY', { value: 'resealed' }, null);
    expect(after.secrets.rows[0]!.valueSealed).toMatch(/^v1:k2:/);
  });

  it('refuses a job of another organization, or of a pool the worker token does not serve, as not found', async () => {
    const s = setup();
    await s.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null);
    s.addJob();
    await expect(s.uc.forWorker(worker(OTHER_ORG), ['default'], JOB, 1)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(s.uc.forWorker(worker(), ['gpu'], JOB, 1)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses an attempt that is not the current one, and a job that has ended', async () => {
    const s = setup();
    await s.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null);
    const job = s.addJob({ attempt: 2 });
    await expect(s.uc.forWorker(worker(), ['default'], JOB, 1)).rejects.toMatchObject({
      constructor: ConflictError,
      field: 'attempt',
    });
    job.status = 'cancelled';
    await expect(s.uc.forWorker(worker(), ['default'], JOB, 2)).rejects.toBeInstanceOf(ConflictError);
    job.status = 'running';
    await expect(s.uc.forWorker(worker(), ['default'], JOB, 2)).resolves.toEqual({ env: { API_KEY: VALUE } });
  });

  it('names the variable whose secret was deleted after the job was submitted', async () => {
    const s = setup();
    s.addJob();
    const err = await s.uc.forWorker(worker(), ['default'], JOB, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ field: 'env.API_KEY' });
    expect((err as Error).message).toBe('env.API_KEY refers to secret OPENAI_KEY, which no longer exists');
  });

  it('refuses, naming the variable, a secret sealed with a key this control plane no longer has', async () => {
    const before = setup(new AesGcmSecretBox(key('k1')));
    await before.uc.put(admin(), 'OPENAI_KEY', { value: VALUE }, null);
    const after = setup(new AesGcmSecretBox(key('k2')));
    after.secrets.rows.push(...before.secrets.rows);
    after.addJob();
    await expect(after.uc.forWorker(worker(), ['default'], JOB, 1)).rejects.toMatchObject({
      constructor: UnavailableError,
      field: 'env.API_KEY',
    });
  });

  it('answers an empty env, without an audit entry, for a job with no references', async () => {
    const s = setup();
    s.addJob({ env: { MODE: 'test' } });
    expect(await s.uc.forWorker(worker(), ['default'], JOB, 1)).toEqual({ env: {} });
    expect(s.audits).toHaveLength(0);
  });
});
