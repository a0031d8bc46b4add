import { type CreateJobInput, createJobSchema } from '@agentfleet/contracts';
import { ForbiddenError, InvalidInputError, type Principal, type UnitOfWork } from '@agentfleet/domain';
import type {
  ExecutionJobRecord,
  ExecutionRepositories,
  JobQueue,
  NewExecutionJob,
  TargetRecord,
} from './execution.ports';
import { SubmitJobUseCase } from './submit-job.use-case';

const ORG = '00000000-0000-4000-8000-000000000001';
const principal: Principal = {
  kind: 'api_key',
  apiKeyId: '00000000-0000-4000-8000-0000000000aa',
  organizationId: ORG,
  userId: null,
  role: 'admin',
  scopes: ['jobs:write', 'secrets:read'],
  instanceAdmin: false,
};
const target = {
  id: '00000000-0000-4000-8000-0000000000bb',
  organizationId: ORG,
  name: 'local',
  type: 'process',
  connectionConfig: {},
  capacity: { max_memory_mb: 1024, max_cpu: 2, max_concurrent: 4 },
  workerPool: 'default',
  allowedImages: ['agentfleet/*'],
  defaultImage: 'agentfleet/agent-runtime:dev',
  breakerOptions: {
    error_threshold_percentage: 50,
    volume_threshold: 3,
    reset_timeout_ms: 30_000,
    rolling_window_ms: 60_000,
  },
  isActive: true,
  createdAt: new Date(),
  updatedAt: new Date('2026-01-02T00:00:00Z'),
} as TargetRecord;

const input = (over: Record<string, unknown> = {}): CreateJobInput =>
  createJobSchema.parse({ command: ['agentfleet:noop'], ...over });

/** In-memory jobs; counts transactions and inserts; `failInsertWhen` makes PostgreSQL refuse a job. */
function setup(failInsertWhen: (j: NewExecutionJob) => boolean = () => false) {
  const rows: ExecutionJobRecord[] = [];
  const audits: string[] = [];
  const enqueued: string[] = [];
  const payloads: unknown[] = [];
  const counts = { transactions: 0, inserts: 0, poolReads: 0, secretReads: 0, enqueueCalls: 0 };
  /** Secret names per organization (values play no part in submission). */
  const secretNames = new Map<string, Set<string>>([[ORG, new Set(['OPENAI_KEY', 'DB_URL'])]]);
  let n = 0;
  let enqueueFails = false;
  const repos = {
    jobs: {
      async createMany(jobs: readonly NewExecutionJob[]) {
        counts.inserts++;
        if (jobs.some(failInsertWhen)) throw new Error('insert or update violates foreign key constraint');
        return jobs.map((j) => {
          const existing = j.idempotencyKey && rows.find((r) => r.idempotencyKey === j.idempotencyKey);
          if (existing) return { job: existing, created: false };
          const job = {
            ...j,
            id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
            status: 'queued',
            attempt: 1,
            createdAt: new Date(),
            queuedAt: new Date(),
          } as unknown as ExecutionJobRecord;
          rows.push(job);
          return { job, created: true };
        });
      },
    },
    targets: {
      async activeForPool() {
        counts.poolReads++;
        return [target];
      },
    },
    secrets: {
      async existingNames(org: string, names: readonly string[]) {
        counts.secretReads++;
        return names.filter((n) => secretNames.get(org)?.has(n));
      },
    },
    audit: {
      async recordMany(entries: readonly { resourceId: string | null }[]) {
        audits.push(...entries.map((e) => e.resourceId ?? ''));
      },
    },
  } as unknown as ExecutionRepositories;
  const uow: UnitOfWork<ExecutionRepositories> = {
    run: async (work) => {
      counts.transactions++;
      // a transaction takes a moment: what arrives meanwhile waits for the next batch
      await new Promise((r) => setImmediate(r));
      return work(repos);
    },
  };
  const queue = {
    async enqueueMany(attempts: { payload: { job_id: string } }[]) {
      counts.enqueueCalls++;
      if (enqueueFails) throw new Error('Redis away');
      for (const { payload } of attempts) {
        enqueued.push(payload.job_id);
        payloads.push(payload);
      }
    },
  } as unknown as JobQueue;
  return {
    rows,
    audits,
    enqueued,
    payloads,
    counts,
    failEnqueue: () => (enqueueFails = true),
    uc: new SubmitJobUseCase(uow, queue),
  };
}

describe('SubmitJobUseCase', () => {
  it('writes a lone submission at once, and enqueues it after the commit', async () => {
    const s = setup();
    const r = await s.uc.execute(principal, input(), '127.0.0.1');
    expect(r).toMatchObject({ created: true, job: { status: 'queued', pool: 'default' } });
    expect(s.counts).toMatchObject({ transactions: 1, inserts: 1 });
    expect(s.enqueued).toEqual([r.job.id]);
    expect(s.audits).toEqual([r.job.id]);
  });

  it("queues the target's breaker options with their revision (when the target last changed)", async () => {
    const s = setup();
    await s.uc.execute(principal, input(), null);
    expect(s.payloads[0]).toMatchObject({
      targets: [{ breaker: { volume_threshold: 3, revision: Date.parse('2026-01-02T00:00:00Z') } }],
    });
  });

  it('writes concurrent submissions together: a few transactions for many jobs, one pool read and one enqueue per batch', async () => {
    const s = setup();
    const all = await Promise.all(Array.from({ length: 40 }, () => s.uc.execute(principal, input(), null)));
    expect(new Set(all.map((r) => r.job.id)).size).toBe(40);
    expect(s.counts.transactions).toBeLessThanOrEqual(4);
    expect(s.counts.poolReads).toBe(s.counts.transactions);
    expect(s.counts.enqueueCalls).toBe(s.counts.transactions);
    expect(s.enqueued.sort()).toEqual(all.map((r) => r.job.id).sort());
  });

  it('fails a submission that does not validate on its own; the others of its batch are stored', async () => {
    const s = setup();
    const [a, bad, b] = await Promise.allSettled([
      s.uc.execute(principal, input(), null),
      s.uc.execute(principal, input({ image: 'elsewhere/image' }), null),
      s.uc.execute(principal, input(), null),
    ]);
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('fulfilled');
    expect(bad).toMatchObject({ status: 'rejected', reason: expect.any(InvalidInputError) });
    expect(s.rows).toHaveLength(2);
  });

  it('retries a batch PostgreSQL refused one submission at a time, so only the faulty one fails', async () => {
    const s = setup((j) => j.supervisorRunId !== null);
    const first = s.uc.execute(principal, input(), null);
    const batch = Promise.allSettled([
      s.uc.execute(principal, input(), null),
      s.uc.execute(principal, input({ supervisor_run_id: '00000000-0000-4000-8000-0000000000cc' }), null),
      s.uc.execute(principal, input(), null),
    ]);
    await first;
    const [a, bad, b] = await batch;
    expect([a.status, bad.status, b.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(s.rows).toHaveLength(3);
  });

  it('returns the existing job for a repeated idempotency key, without enqueueing it again', async () => {
    const s = setup();
    const [one, two] = await Promise.all([
      s.uc.execute(principal, input({ idempotency_key: 'k' }), null),
      s.uc.execute(principal, input({ idempotency_key: 'k' }), null),
    ]);
    expect(two.job.id).toBe(one.job.id);
    expect([one.created, two.created]).toEqual([true, false]);
    expect(s.enqueued).toEqual([one.job.id]);
  });

  it('accepts a stored job whose enqueue failed, saying so (the dispatcher sweep enqueues it)', async () => {
    const s = setup();
    s.failEnqueue();
    const r = await s.uc.execute(principal, input(), null);
    expect(r).toMatchObject({ created: true, enqueueError: 'Redis away' });
  });

  it('says nothing of an enqueue failure to the repeat of an idempotency key (its job was enqueued before)', async () => {
    const s = setup();
    const first = await s.uc.execute(principal, input({ idempotency_key: 'k' }), null);
    s.failEnqueue();
    const [again, fresh] = await Promise.all([
      s.uc.execute(principal, input({ idempotency_key: 'k' }), null),
      s.uc.execute(principal, input(), null),
    ]);
    expect(again).toMatchObject({ created: false, job: { id: first.job.id } });
    expect(again.enqueueError).toBeUndefined();
    expect(fresh).toMatchObject({ created: true, enqueueError: 'Redis away' });
  });

  describe('batch submission (all or none)', () => {
    it('stores the jobs of one batch in one transaction and enqueues them in one call, in order', async () => {
      const s = setup();
      const r = await s.uc.executeMany(principal, [input(), input({ priority: 5 }), input()], null);
      expect(r.map((x) => x.created)).toEqual([true, true, true]);
      expect(r.map((x) => x.job.id)).toEqual(s.rows.map((row) => row.id));
      expect(s.counts).toMatchObject({ transactions: 1, inserts: 1, enqueueCalls: 1 });
      expect(s.enqueued).toEqual(r.map((x) => x.job.id));
      expect(s.audits).toEqual(r.map((x) => x.job.id));
    });

    it('refuses the whole batch when one job is invalid, naming jobs.N.field; nothing stored, audited or enqueued', async () => {
      const s = setup();
      const err = await s.uc
        .executeMany(principal, [input(), input(), input({ image: 'elsewhere/image' })], null)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err).toMatchObject({ field: 'jobs.2.image' });
      expect((err as Error).message).toBe('jobs.2: image elsewhere/image is not allowed by target local');
      expect([s.rows, s.audits, s.enqueued]).toEqual([[], [], []]);
    });

    it('keeps the kind of the refusal: a missing scope is still forbidden, at jobs.N.env.<variable>', async () => {
      const s = setup();
      const jobsOnly = { ...principal, scopes: ['jobs:write'] as Principal['scopes'] };
      await expect(
        s.uc.executeMany(jobsOnly, [input(), input({ env: { K: { secret: 'OPENAI_KEY' } } })], null),
      ).rejects.toMatchObject({ constructor: ForbiddenError, field: 'jobs.1.env.K' });
      expect(s.rows).toHaveLength(0);
    });

    it('refuses a batch that gives one idempotency key twice, naming the second', async () => {
      const s = setup();
      await expect(
        s.uc.executeMany(
          principal,
          [input({ idempotency_key: 'a' }), input(), input({ idempotency_key: 'a' })],
          null,
        ),
      ).rejects.toMatchObject({ constructor: InvalidInputError, field: 'jobs.2.idempotency_key' });
      expect(s.counts.transactions).toBe(0);
    });

    it('returns the existing job for a key already used (created false, not enqueued again) beside new ones', async () => {
      const s = setup();
      const first = await s.uc.execute(principal, input({ idempotency_key: 'k' }), null);
      const r = await s.uc.executeMany(principal, [input({ idempotency_key: 'k' }), input()], null);
      expect(r.map((x) => x.created)).toEqual([false, true]);
      expect(r[0]!.job.id).toBe(first.job.id);
      expect(s.enqueued).toEqual([first.job.id, r[1]!.job.id]);
    });

    it('accepts a stored batch whose enqueue failed, saying so for each new job', async () => {
      const s = setup();
      s.failEnqueue();
      const r = await s.uc.executeMany(principal, [input(), input()], null);
      expect(r.map((x) => x.enqueueError)).toEqual(['Redis away', 'Redis away']);
      expect(s.rows).toHaveLength(2);
    });
  });

  describe('env values that reference secrets', () => {
    const withRef = (env: Record<string, unknown>) => input({ env });

    it('stores the reference, not a value, and queues only its name', async () => {
      const s = setup();
      const r = await s.uc.execute(
        principal,
        withRef({ MODE: 'test', API_KEY: { secret: 'OPENAI_KEY' } }),
        null,
      );
      expect(s.rows[0]!.env).toEqual({ MODE: 'test', API_KEY: { secret: 'OPENAI_KEY' } });
      expect(r.job).toMatchObject({ env_names: ['MODE', 'API_KEY'], env_secrets: { API_KEY: 'OPENAI_KEY' } });
      expect(s.payloads[0]).toMatchObject({
        spec: { env: { MODE: 'test' }, secret_env: { API_KEY: 'OPENAI_KEY' } },
      });
    });

    it('queues no secret_env for a job without references, and reads no secrets for it', async () => {
      const s = setup();
      await s.uc.execute(principal, withRef({ MODE: 'test' }), null);
      expect((s.payloads[0] as { spec: Record<string, unknown> }).spec).not.toHaveProperty('secret_env');
      expect(s.counts.secretReads).toBe(0);
    });

    it('refuses a reference to a secret that does not exist naming env.<variable>; nothing stored or enqueued', async () => {
      const s = setup();
      const err = await s.uc
        .execute(principal, withRef({ API_KEY: { secret: 'OPENAI_KEY' }, TOKEN: { secret: 'NOPE' } }), null)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err).toMatchObject({ field: 'env.TOKEN' });
      expect((err as Error).message).toBe('env.TOKEN refers to secret NOPE, which does not exist');
      expect(s.rows).toHaveLength(0);
      expect(s.enqueued).toHaveLength(0);
      expect(s.audits).toHaveLength(0);
    });

    it("treats another organization's secret of the same name as missing", async () => {
      const s = setup();
      const other = { ...principal, organizationId: '00000000-0000-4000-8000-000000000002' };
      await expect(
        s.uc.execute(other, withRef({ API_KEY: { secret: 'OPENAI_KEY' } }), null),
      ).rejects.toMatchObject({ constructor: InvalidInputError, field: 'env.API_KEY' });
    });

    it('takes the secrets:read scope to reference secrets (the job sees their values)', async () => {
      const s = setup();
      const jobsOnly = { ...principal, scopes: ['jobs:write'] as Principal['scopes'] };
      await expect(
        s.uc.execute(jobsOnly, withRef({ API_KEY: { secret: 'OPENAI_KEY' } }), null),
      ).rejects.toMatchObject({ constructor: ForbiddenError, field: 'env.API_KEY' });
      await expect(s.uc.execute(jobsOnly, withRef({ MODE: 'plain' }), null)).resolves.toMatchObject({
        created: true,
      });
    });

    it('fails only the submission with a missing secret; its batch is stored, the same references read once', async () => {
      const s = setup();
      const first = s.uc.execute(principal, input(), null);
      const batch = Promise.allSettled([
        s.uc.execute(principal, withRef({ A: { secret: 'OPENAI_KEY' }, B: { secret: 'DB_URL' } }), null),
        s.uc.execute(principal, withRef({ A: { secret: 'MISSING' } }), null),
        s.uc.execute(principal, withRef({ B: { secret: 'DB_URL' }, A: { secret: 'OPENAI_KEY' } }), null),
      ]);
      await first;
      const [a, bad, b] = await batch;
      expect([a.status, bad.status, b.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(s.rows).toHaveLength(3);
      expect(s.counts.transactions).toBe(2);
      // one lookup for {DB_URL, OPENAI_KEY} (in either order) and one for {MISSING}
      expect(s.counts.secretReads).toBe(2);
    });
  });
});
