import type { ExecutionRunPayload } from '@agentfleet/contracts';
import type { UnitOfWork } from '@agentfleet/domain';
import { DispatchQueuedJobsUseCase } from './dispatch-queued-jobs.use-case';
import type {
  AttemptEvidence,
  ExecutionJobRecord,
  ExecutionRepositories,
  JobQueue,
  TargetRecord,
} from './execution.ports';

const ORG = '00000000-0000-4000-8000-000000000001';
const T0 = new Date('2026-01-01T00:00:00Z');

function job(n: number, over: Partial<ExecutionJobRecord> = {}): ExecutionJobRecord {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    organizationId: ORG,
    pool: 'default',
    targetId: null,
    image: 'agentfleet/agent-runtime:dev',
    command: [],
    prompt: null,
    env: {},
    status: 'queued',
    attempt: 1,
    priority: 100,
    memoryLimitMb: 128,
    cpu: 0.5,
    pidsLimit: 256,
    timeoutSeconds: 60,
    network: false,
    queuedAt: new Date(T0.getTime() + n * 1000),
    cancelRequestedAt: null,
    ...over,
  } as ExecutionJobRecord;
}

/** In-memory jobs, queue and stream evidence: just what the sweep reads and writes. */
function setup(jobs: ExecutionJobRecord[]) {
  const rows = new Map(jobs.map((j) => [j.id, { ...j }]));
  const queued = new Set<string>();
  const ran = new Set<string>();
  const enqueued: ExecutionRunPayload[] = [];
  const repos = {
    jobs: {
      async queuedBefore(before: Date, after: { queuedAt: Date; id: string } | null, limit: number) {
        return [...rows.values()]
          .filter((j) => j.status === 'queued' && j.queuedAt < before)
          .sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime() || a.id.localeCompare(b.id))
          .filter(
            (j) =>
              !after ||
              j.queuedAt > after.queuedAt ||
              (j.queuedAt.getTime() === after.queuedAt.getTime() && j.id > after.id),
          )
          .slice(0, limit);
      },
      async transition(id: string, attempt: number, from: readonly string[], to: string) {
        const j = rows.get(id);
        if (!j || j.attempt !== attempt || !from.includes(j.status)) return undefined;
        j.status = to as ExecutionJobRecord['status'];
        return { ...j };
      },
    },
    targets: {
      async activeForPool(): Promise<TargetRecord[]> {
        return [];
      },
    },
  } as unknown as ExecutionRepositories;
  const uow: UnitOfWork<ExecutionRepositories> = { run: (work) => work(repos) };
  const queue: JobQueue = {
    async enqueue(payload) {
      enqueued.push(payload);
      queued.add(`${payload.job_id}-a${payload.attempt}`);
    },
    async enqueueMany(attempts) {
      for (const a of attempts) await this.enqueue(a.payload, a);
    },
    async removeQueued() {
      return false;
    },
    async has(_pool, jobId, attempt) {
      return queued.has(`${jobId}-a${attempt}`);
    },
  };
  const evidence: AttemptEvidence = { ran: async (jobId, attempt) => ran.has(`${jobId}-a${attempt}`) };
  return { rows, queued, ran, enqueued, sweep: new DispatchQueuedJobsUseCase(uow, queue, evidence) };
}

const later = new Date(T0.getTime() + 3_600_000);

describe('DispatchQueuedJobsUseCase', () => {
  it('enqueues a queued attempt that the queue does not know, once', async () => {
    const lost = job(1, { attempt: 2 });
    const { enqueued, sweep } = setup([lost]);
    const r = await sweep.sweep(later);
    expect(r.enqueued.map((j) => j.id)).toEqual([lost.id]);
    expect(enqueued).toEqual([expect.objectContaining({ job_id: lost.id, attempt: 2 })]);
    // the next sweep finds it in the queue: nothing more
    expect((await sweep.sweep(later)).enqueued).toHaveLength(0);
    expect(enqueued).toHaveLength(1);
  });

  it('leaves alone what the queue holds, what already ran, and what is not old enough', async () => {
    const inQueue = job(1);
    const ranAlready = job(2);
    const young = job(3, { queuedAt: later });
    const { queued, ran, enqueued, sweep } = setup([inQueue, ranAlready, young]);
    queued.add(`${inQueue.id}-a1`);
    // it ran, its queue entry was removed since, and its events have not been persisted yet
    ran.add(`${ranAlready.id}-a1`);
    expect(await sweep.sweep(later)).toEqual({ enqueued: [], cancelled: [] });
    expect(enqueued).toHaveLength(0);
  });

  it('ends a job whose cancel came while it had no queue entry instead of running it', async () => {
    const cancelledJob = job(1, { cancelRequestedAt: T0 });
    const { rows, enqueued, sweep } = setup([cancelledJob]);
    const r = await sweep.sweep(later);
    expect(r.cancelled.map((j) => j.id)).toEqual([cancelledJob.id]);
    expect(rows.get(cancelledJob.id)?.status).toBe('cancelled');
    expect(enqueued).toHaveLength(0);
  });

  it('pages through a backlog longer than one page, then starts over', async () => {
    const jobs = [1, 2, 3, 4, 5].map((n) => job(n));
    const { queued, enqueued, sweep } = setup(jobs);
    for (const j of jobs.slice(0, 2)) queued.add(`${j.id}-a1`); // the oldest are fine
    await sweep.sweep(later, 2);
    expect(enqueued).toHaveLength(0);
    await sweep.sweep(later, 2);
    await sweep.sweep(later, 2);
    expect(enqueued.map((p) => p.job_id)).toEqual(jobs.slice(2).map((j) => j.id));
    // a short page ended the list: the next sweep starts from the oldest again and finds nothing new
    await sweep.sweep(later, 2);
    expect(enqueued).toHaveLength(3);
  });
});
