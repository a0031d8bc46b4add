import type { ExecutionRunPayload, JobEvent } from '@agentfleet/contracts';
import type { UnitOfWork } from '@agentfleet/domain';
import type {
  ExecutionJobRecord,
  ExecutionRepositories,
  JobLiveFieldsChange,
  JobPatch,
  JobQueue,
  JobTransitionChange,
  StoredJobEvent,
  TargetRecord,
} from './execution.ports';
import { PersistJobEventsUseCase, type StreamEntry } from './persist-job-events.use-case';

const ORG = '00000000-0000-4000-8000-000000000001';
const WORKER = '00000000-0000-4000-8000-0000000000aa';
const TARGET = '00000000-0000-4000-8000-0000000000bb';
const AT = '2026-01-01T00:00:00.000Z';

function job(n: number, over: Partial<ExecutionJobRecord> = {}): ExecutionJobRecord {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    organizationId: ORG,
    pool: 'default',
    targetId: TARGET,
    image: 'agentfleet/agent-runtime:dev',
    command: [],
    prompt: null,
    env: {},
    status: 'queued',
    attempt: 1,
    progress: 0,
    priority: 100,
    memoryLimitMb: 128,
    cpu: 0.5,
    pidsLimit: 256,
    timeoutSeconds: 60,
    network: false,
    maxRetries: 0,
    retryBackoffMs: 1000,
    retryCount: 0,
    oomRetryEnabled: false,
    oomRetryMaxMemoryMb: null,
    oomRetried: false,
    promptTokens: 0,
    completionTokens: 0,
    costUsd: '0',
    startedAt: null,
    completedAt: null,
    cancelRequestedAt: null,
    ...over,
  } as ExecutionJobRecord;
}

const base = (j: ExecutionJobRecord, attempt = j.attempt) => ({
  v: 1 as const,
  job_id: j.id,
  attempt,
  at: AT,
});
const started = (j: ExecutionJobRecord, attempt?: number): JobEvent => ({
  ...base(j, attempt),
  type: 'started',
  worker_id: WORKER,
  container_id: 'c1',
  target_id: TARGET,
  target_host: 'host',
});
const finished = (j: ExecutionJobRecord, status: 'completed' | 'failed', attempt?: number): JobEvent => ({
  ...base(j, attempt),
  type: 'finished',
  status,
  exit_code: status === 'completed' ? 0 : 1,
  error: null,
  oom_evidence: null,
  peak_memory_mb: null,
  memory_limit_mb: 128,
});
const progress = (j: ExecutionJobRecord, p: number): JobEvent => ({
  ...base(j),
  type: 'progress',
  progress: p,
});
const usage = (j: ExecutionJobRecord, prompt: number, completion: number, cost?: number): JobEvent => ({
  ...base(j),
  type: 'usage',
  model: 'm',
  prompt_tokens: prompt,
  completion_tokens: completion,
  ...(cost !== undefined ? { cost_usd: cost } : {}),
});
const log = (j: ExecutionJobRecord, message: string): JobEvent => ({
  ...base(j),
  type: 'log',
  stream: 'stdout',
  level: 'info',
  message,
});

/** In-memory jobs with the repository's conditional semantics, counting the statements the batch makes. */
function setup(jobs: ExecutionJobRecord[]) {
  const rows = new Map(jobs.map((j) => [j.id, { ...j }]));
  const stored: StoredJobEvent[] = [];
  const enqueued: ExecutionRunPayload[] = [];
  const statements = { transitionMany: 0, updateMany: 0, requeue: 0 };
  const apply = (j: ExecutionJobRecord, patch: JobPatch) => Object.assign(j, patch);
  const target = {
    id: TARGET,
    capacity: { max_memory_mb: 1024, max_cpu: 2, max_concurrent: 4 },
  } as TargetRecord;
  const repos = {
    jobs: {
      async findManyUnscoped(ids: readonly string[]) {
        return ids.flatMap((id) => (rows.has(id) ? [{ ...rows.get(id)! }] : []));
      },
      async transitionMany(changes: readonly JobTransitionChange[]) {
        statements.transitionMany++;
        expect(new Set(changes.map((c) => c.id)).size).toBe(changes.length);
        return changes.flatMap((c) => {
          const j = rows.get(c.id);
          if (!j || j.attempt !== c.attempt || !c.from.includes(j.status)) return [];
          apply(j, { ...c.patch });
          j.status = c.to;
          return [{ ...j }];
        });
      },
      async updateMany(changes: readonly JobLiveFieldsChange[]) {
        if (!changes.length) return;
        statements.updateMany++;
        for (const c of changes) {
          const j = rows.get(c.id);
          if (!j || j.attempt !== c.attempt || !['running', 'awaiting_approval', 'queued'].includes(j.status))
            continue;
          if (c.progress !== undefined) j.progress = c.progress;
          j.promptTokens += c.addPromptTokens ?? 0;
          j.completionTokens += c.addCompletionTokens ?? 0;
          j.costUsd = String(Number(j.costUsd) + (c.addCostUsd ?? 0));
        }
      },
      async requeue(id: string, attempt: number, from: readonly string[], patch: JobPatch) {
        statements.requeue++;
        const j = rows.get(id);
        if (!j || j.attempt !== attempt || !from.includes(j.status)) return undefined;
        apply(j, patch);
        j.status = 'queued';
        j.attempt++;
        return { ...j };
      },
    },
    targets: {
      async findByIdUnscoped() {
        return target;
      },
      async activeForPool() {
        return [
          {
            ...target,
            name: 't',
            type: 'process',
            connectionConfig: {},
            breakerOptions: {},
            updatedAt: new Date(),
          },
        ];
      },
    },
    events: {
      async insertMany(events: readonly StoredJobEvent[]) {
        stored.push(...events);
      },
    },
  } as unknown as ExecutionRepositories;
  const uow: UnitOfWork<ExecutionRepositories> = { run: (work) => work(repos) };
  const queue = {
    async enqueueMany(attempts: { payload: ExecutionRunPayload }[]) {
      enqueued.push(...attempts.map((a) => a.payload));
    },
  } as unknown as JobQueue;
  let n = 0;
  const entries = (events: JobEvent[]): StreamEntry[] =>
    events.map((event) => ({ streamId: `1-${n++}`, event }));
  return { rows, stored, enqueued, statements, entries, uc: new PersistJobEventsUseCase(uow, queue) };
}

describe('PersistJobEventsUseCase', () => {
  it('applies a whole attempt in one batch, in stream order, storing every event', async () => {
    const a = job(1);
    const s = setup([a]);
    const batch = s.entries([started(a), progress(a, 0.5), log(a, 'hi'), finished(a, 'completed')]);
    const r = await s.uc.execute(batch);
    expect(r).toMatchObject({ accepted: 4, dropped: 0, retried: [] });
    expect(r.finished.map((j) => j.status)).toEqual(['completed']);
    expect(s.rows.get(a.id)).toMatchObject({
      status: 'completed',
      progress: 1,
      workerId: WORKER,
      exitCode: 0,
    });
    expect(s.stored.map((e) => e.streamId)).toEqual(batch.map((e) => e.streamId));
  });

  it('writes many jobs with one statement per round, and stores their events in stream order', async () => {
    const jobs = Array.from({ length: 50 }, (_, i) => job(i + 1, i % 2 ? {} : { status: 'running' }));
    const s = setup(jobs);
    // half start and finish in this batch, half only finish (they started in an earlier one)
    const batch = s.entries([
      ...jobs.filter((_, i) => i % 2).map((j) => started(j)),
      ...jobs.map((j) => finished(j, 'completed')),
    ]);
    const r = await s.uc.execute(batch);
    expect(r.finished).toHaveLength(50);
    expect([...s.rows.values()].every((j) => j.status === 'completed')).toBe(true);
    expect(s.statements.transitionMany).toBe(1);
    expect(s.stored.map((e) => e.streamId)).toEqual(batch.map((e) => e.streamId));
  });

  it('moves an attempt that started and ended in the batch in one step, with both events fields', async () => {
    const a = job(1);
    const s = setup([a]);
    await s.uc.execute(s.entries([started(a), log(a, 'x'), finished(a, 'completed')]));
    expect(s.statements.transitionMany).toBe(1);
    expect(s.rows.get(a.id)).toMatchObject({
      status: 'completed',
      workerId: WORKER,
      containerId: 'c1',
      startedAt: new Date(AT),
      completedAt: new Date(AT),
      exitCode: 0,
      progress: 1,
    });
  });

  it('lets the finish go on alone when the start no longer applies (a start delivered twice)', async () => {
    const a = job(1, { status: 'running' });
    const s = setup([a]);
    const r = await s.uc.execute(s.entries([started(a), finished(a, 'completed')]));
    expect(s.rows.get(a.id)).toMatchObject({ status: 'completed' });
    expect(r.finished).toHaveLength(1);
    expect(s.statements.transitionMany).toBe(2);
  });

  it('starts, then re-queues, an attempt that started and failed in the batch with a retry left', async () => {
    const a = job(1, { maxRetries: 1 });
    const s = setup([a]);
    const r = await s.uc.execute(s.entries([started(a), finished(a, 'failed')]));
    expect(s.rows.get(a.id)).toMatchObject({ status: 'queued', attempt: 2, retryCount: 1, workerId: WORKER });
    expect(r.retried).toHaveLength(1);
    expect(s.enqueued.map((p) => p.attempt)).toEqual([2]);
  });

  it('drops the events of an older attempt and of unknown jobs (fencing)', async () => {
    const a = job(1, { attempt: 2 });
    const s = setup([a]);
    const r = await s.uc.execute(
      s.entries([started(a, 1), finished(a, 'completed', 1), started(job(9)), started(a, 2)]),
    );
    expect(r).toMatchObject({ accepted: 1, dropped: 3 });
    expect(s.rows.get(a.id)).toMatchObject({ status: 'running', attempt: 2 });
  });

  it('keeps a job whose start no longer applies as it is, and its later events change nothing', async () => {
    const a = job(1, { status: 'cancelled' });
    const s = setup([a]);
    const r = await s.uc.execute(s.entries([started(a), progress(a, 0.3), finished(a, 'completed')]));
    expect(r).toMatchObject({ accepted: 3, finished: [] });
    expect(s.rows.get(a.id)).toMatchObject({ status: 'cancelled', progress: 0 });
  });

  it('merges a run of progress and usage events into one change with the same end state', async () => {
    const a = job(1, { status: 'running' });
    const s = setup([a]);
    await s.uc.execute(
      s.entries([progress(a, 0.2), usage(a, 10, 5), log(a, 'x'), progress(a, 0.5), usage(a, 1, 1, 0.25)]),
    );
    expect(s.statements.updateMany).toBe(1);
    expect(s.rows.get(a.id)).toMatchObject({
      progress: 0.5,
      promptTokens: 11,
      completionTokens: 6,
      costUsd: '0.25',
    });
  });

  it('re-queues a failed attempt with retries left, enqueues it after the commit, and follows the new attempt', async () => {
    const a = job(1, { status: 'running', maxRetries: 1 });
    const s = setup([a]);
    const r = await s.uc.execute(s.entries([finished(a, 'failed'), started(a, 2)]));
    expect(r.retried.map((j) => j.attempt)).toEqual([2]);
    expect(r.finished).toEqual([]);
    expect(s.enqueued.map((p) => p.attempt)).toEqual([2]);
    // the started event of attempt 2 came after the requeue in the stream: it applies to the new attempt
    expect(s.rows.get(a.id)).toMatchObject({ status: 'running', attempt: 2, retryCount: 1 });
  });
});
