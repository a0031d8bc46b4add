import type { Principal, UnitOfWork } from '@agentfleet/domain';
import type { ExecutionJobRecord, ExecutionRepositories, JobQueue, JobSignals } from './execution.ports';
import { ManageJobsUseCase } from './manage-jobs.use-case';

const ORG = '00000000-0000-4000-8000-000000000001';
const principal: Principal = {
  kind: 'api_key',
  apiKeyId: '00000000-0000-4000-8000-0000000000aa',
  organizationId: ORG,
  userId: null,
  role: 'admin',
  scopes: ['jobs:write'],
  instanceAdmin: false,
};

/** One job row with conditional transitions; a queue whose entry may be held by a worker. */
function setup(status: string, entryHeld: boolean) {
  const job = {
    id: '00000000-0000-4000-8000-0000000000cc',
    organizationId: ORG,
    pool: 'default',
    attempt: 1,
    status,
    workerId: null,
    command: ['true'],
    env: {},
    metadata: {},
    costUsd: 0,
    createdAt: new Date(),
    queuedAt: new Date(),
  } as unknown as ExecutionJobRecord;
  const signalled: string[] = [];
  const removals: string[] = [];
  const repos = {
    jobs: {
      markCancelRequested: async () => ({ ...job }),
      transition: async (_id: string, attempt: number, from: readonly string[], to: string) => {
        if (attempt !== job.attempt || !from.includes(job.status)) return undefined;
        job.status = to as ExecutionJobRecord['status'];
        return { ...job };
      },
      findById: async () => ({ ...job }),
    },
    targets: { activeForPool: async () => [{ id: 't-1' }, { id: 't-2' }] },
    audit: { record: async () => undefined },
  } as unknown as ExecutionRepositories;
  const uow: UnitOfWork<ExecutionRepositories> = { run: (work) => work(repos) };
  const queue = {
    removeQueued: async (_pool: string, id: string) => {
      removals.push(id);
      return !entryHeld;
    },
  } as unknown as JobQueue;
  const signals: JobSignals = {
    cancel: async (id) => void signalled.push(id),
  };
  const left: string[] = [];
  const slots = {
    leaveTurns: async (ids: readonly string[], holder: string) =>
      void left.push(`${ids.join(',')} ${holder}`),
  };
  return { job, signalled, removals, left, uc: new ManageJobsUseCase(uow, queue, signals, slots) };
}

describe('ManageJobsUseCase.cancel', () => {
  it('removes a queued job from its queue and ends it cancelled, with no signal needed', async () => {
    const s = setup('queued', false);
    const view = await s.uc.cancel(principal, s.job.id, null);
    expect(view).toMatchObject({ status: 'cancelled' });
    expect(s.removals).toEqual([s.job.id]);
    expect(s.signalled).toEqual([]);
  });

  it('also raises the cancel flag when a worker held the queued entry (taking it, or deferring it), so it never starts', async () => {
    const s = setup('queued', true);
    const view = await s.uc.cancel(principal, s.job.id, null);
    expect(view).toMatchObject({ status: 'cancelled' });
    expect(s.signalled).toEqual([s.job.id]);
  });

  it('signals the worker of a running job and leaves its end to the worker', async () => {
    const s = setup('running', true);
    const view = await s.uc.cancel(principal, s.job.id, null);
    expect(view).toMatchObject({ status: 'running' });
    expect(s.removals).toEqual([]);
    expect(s.signalled).toEqual([s.job.id]);
  });

  it("gives up a cancelled queued job's places in line at its pool's targets (it may have waited for a full one)", async () => {
    const s = setup('queued', false);
    await s.uc.cancel(principal, s.job.id, null);
    expect(s.left).toEqual([`t-1,t-2 ${s.job.id}:a1`]);
  });
});
