import { randomBytes } from 'node:crypto';
import type { ExecutionRepositories, NewExecutionJob, StoredJobEvent } from '@agentfleet/execution';
import { createTestDatabase, type TestDatabase } from '@agentfleet/testing';
import type { DataSource } from 'typeorm';
import { createDataSource } from './data-source';
import { OrganizationEntity } from './entities';
import { executionRepositories } from './typeorm-execution.repositories';
import { TypeormUnitOfWork } from './typeorm-unit-of-work';

/** The multi-row statements of the submit and event paths, against the real schema. */
let db: TestDatabase;
let ds: DataSource;
let uow: TypeormUnitOfWork<ExecutionRepositories>;
let org: string;

beforeAll(async () => {
  db = await createTestDatabase();
  ds = createDataSource({ url: db.url, poolSize: 4 });
  await ds.initialize();
  uow = new TypeormUnitOfWork(ds, executionRepositories);
  const o = await ds.manager.save(
    OrganizationEntity,
    ds.manager.create(OrganizationEntity, { name: `org-${randomBytes(4).toString('hex')}` }),
  );
  org = o.id;
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

function newJob(over: Partial<NewExecutionJob> = {}): NewExecutionJob {
  return {
    organizationId: org,
    supervisorRunId: null,
    targetId: null,
    engineId: null,
    pool: 'default',
    image: 'agentfleet/agent-runtime:dev',
    command: ['node', '-e', 'console.log("it\'s \\"quoted\\", {braced}")'],
    prompt: null,
    env: { A: 'b' },
    maxRetries: 0,
    retryBackoffMs: 1000,
    oomRetryEnabled: false,
    oomRetryMaxMemoryMb: null,
    memoryLimitMb: 128,
    cpu: 0.5,
    pidsLimit: 256,
    timeoutSeconds: 60,
    network: false,
    priority: 100,
    idempotencyKey: null,
    metadata: { n: 1 },
    executionTarget: { name: 't' },
    ...over,
  };
}

describe('execution job repository, multi-row statements', () => {
  it('createMany inserts in order, and a repeated idempotency key (earlier or in the same batch) returns the first job', async () => {
    const key = `k-${randomBytes(4).toString('hex')}`;
    const [first] = await uow.run((r) => r.jobs.createMany([newJob({ idempotencyKey: key })]));
    const out = await uow.run((r) =>
      r.jobs.createMany([
        newJob({ image: 'one' }),
        newJob({ idempotencyKey: key }),
        newJob({ image: 'two', idempotencyKey: `${key}-2` }),
        newJob({ idempotencyKey: `${key}-2` }),
      ]),
    );
    expect(out.map((o) => o.created)).toEqual([true, false, true, false]);
    expect(out[1]!.job.id).toBe(first!.job.id);
    expect(out[3]!.job.id).toBe(out[2]!.job.id);
    expect(out[0]).toMatchObject({
      job: {
        image: 'one',
        status: 'queued',
        attempt: 1,
        cpu: 0.5,
        command: newJob().command,
        env: { A: 'b' },
        metadata: { n: 1 },
      },
    });
  });

  it("createMany keeps each row's own command (empty, unicode, NULL-like strings) and nullable fields", async () => {
    const out = await uow.run((r) =>
      r.jobs.createMany([
        newJob({ command: [] }),
        newJob({ command: ['sh', '-c', 'echo "a b"; exit 3', 'NULL', '', 'ünï{c}ode'], prompt: 'p' }),
        newJob({ command: ['one'], oomRetryMaxMemoryMb: 512, oomRetryEnabled: true, network: true }),
      ]),
    );
    const stored = await uow.run((r) => r.jobs.findManyUnscoped(out.map((o) => o.job.id)));
    const byId = new Map(stored.map((j) => [j.id, j]));
    expect(out.map((o) => byId.get(o.job.id)!.command)).toEqual([
      [],
      ['sh', '-c', 'echo "a b"; exit 3', 'NULL', '', 'ünï{c}ode'],
      ['one'],
    ]);
    expect(out.map((o) => o.job.prompt)).toEqual([null, 'p', null]);
    expect(out.map((o) => o.job.oomRetryMaxMemoryMb)).toEqual([null, null, 512]);
    expect(out.map((o) => o.job.network)).toEqual([false, false, true]);
  });

  it('transitionMany moves only the jobs whose (status, attempt) still match, one statement per shape', async () => {
    const [a, b, c] = await uow.run((r) => r.jobs.createMany([newJob(), newJob(), newJob()]));
    await uow.run((r) => r.jobs.transition(c!.job.id, 1, ['queued'], 'cancelled', {}));
    const at = new Date('2026-01-01T00:00:00Z');
    const moved = await uow.run((r) =>
      r.jobs.transitionMany([
        {
          id: a!.job.id,
          attempt: 1,
          from: ['queued'],
          to: 'running',
          patch: { startedAt: at, containerId: 'x' },
        },
        { id: b!.job.id, attempt: 2, from: ['queued'], to: 'running', patch: { startedAt: at } },
        { id: c!.job.id, attempt: 1, from: ['queued'], to: 'running', patch: { startedAt: at } },
      ]),
    );
    expect(moved.map((j) => j.id)).toEqual([a!.job.id]);
    expect(moved[0]).toMatchObject({ status: 'running', startedAt: at, containerId: 'x' });
    const done = await uow.run((r) =>
      r.jobs.transitionMany([
        {
          id: a!.job.id,
          attempt: 1,
          from: ['running'],
          to: 'completed',
          patch: { result: { answer: [42] }, oomEvidence: null, progress: 1, exitCode: 0 },
        },
      ]),
    );
    expect(done[0]).toMatchObject({
      status: 'completed',
      result: { answer: [42] },
      progress: 1,
      exitCode: 0,
    });
    await expect(
      uow.run((r) =>
        r.jobs.transitionMany([
          { id: a!.job.id, attempt: 1, from: ['running'], to: 'failed', patch: {} },
          { id: a!.job.id, attempt: 1, from: ['running'], to: 'failed', patch: {} },
        ]),
      ),
    ).rejects.toThrow(/one change per job/);
  });

  it('updateMany sets progress and adds usage for the current attempt of live jobs only', async () => {
    const [a, b] = await uow.run((r) => r.jobs.createMany([newJob(), newJob()]));
    await uow.run((r) =>
      r.jobs.updateMany([{ id: a!.job.id, attempt: 1, addPromptTokens: 5, addCostUsd: 0.5 }]),
    );
    await uow.run((r) =>
      r.jobs.updateMany([
        { id: a!.job.id, attempt: 1, progress: 0.25, addPromptTokens: 1, addCompletionTokens: 2 },
        { id: b!.job.id, attempt: 2, progress: 0.9 },
      ]),
    );
    const [ra, rb] = await uow.run((r) => r.jobs.findManyUnscoped([a!.job.id, b!.job.id]));
    const byId = new Map([ra!, rb!].map((j) => [j.id, j]));
    expect(byId.get(a!.job.id)).toMatchObject({
      progress: 0.25,
      promptTokens: 6,
      completionTokens: 2,
      costUsd: '0.500000',
    });
    expect(byId.get(b!.job.id)).toMatchObject({ progress: 0 });
  });

  it('events insertMany keeps the stream order and ignores a redelivered entry', async () => {
    const [a] = await uow.run((r) => r.jobs.createMany([newJob()]));
    const ev = (streamId: string, message: string): StoredJobEvent => ({
      streamId,
      jobId: a!.job.id,
      organizationId: org,
      attempt: 1,
      type: 'log',
      data: {
        v: 1,
        job_id: a!.job.id,
        attempt: 1,
        at: 'now',
        type: 'log',
        stream: 'stdout',
        level: 'info',
        message,
      },
    });
    await uow.run((r) => r.events.insertMany([ev('1-0', 'first'), ev('1-1', 'sec"ond'), ev('1-2', 'third')]));
    await uow.run((r) => r.events.insertMany([ev('1-1', 'again'), ev('1-3', 'fourth')]));
    const list = await uow.run((r) => r.events.list(org, a!.job.id, null, 10));
    expect(list.map((e) => (e.data as { message: string }).message)).toEqual([
      'first',
      'sec"ond',
      'third',
      'fourth',
    ]);
  });
});

describe('TypeormUnitOfWork', () => {
  it('runs READ COMMITTED even where the database default is another level', async () => {
    await ds.query(`ALTER DATABASE "${db.name}" SET default_transaction_isolation = 'serializable'`);
    const fresh = createDataSource({ url: db.url, poolSize: 1 });
    await fresh.initialize();
    try {
      const level = await new TypeormUnitOfWork(fresh, (em) => em).run(
        async (em) => (await em.query<{ transaction_isolation: string }[]>('SHOW transaction_isolation'))[0]!,
      );
      expect(level.transaction_isolation).toBe('read committed');
    } finally {
      await fresh.destroy();
      await ds.query(`ALTER DATABASE "${db.name}" RESET default_transaction_isolation`);
    }
  });
});
