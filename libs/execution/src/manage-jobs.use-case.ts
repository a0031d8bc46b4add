import type { ListJobsQuery } from '@agentfleet/contracts';
import {
  NotFoundError,
  type Principal,
  type UnitOfWork,
  actorOf,
  isTerminal,
  transitionFrom,
} from '@agentfleet/domain';
import type { ExecutionRepositories, JobFilter, JobQueue, JobSignals } from './execution.ports';
import { type TargetSlots, slotHolder } from './target-slots.port';
import { jobView } from './job.view';

export function jobFilterOf(q: ListJobsQuery): JobFilter {
  const f: JobFilter = {};
  if (q.status) f.status = q.status;
  if (q.pool) f.pool = q.pool;
  if (q.worker_id) f.workerId = q.worker_id;
  if (q.target_id) f.targetId = q.target_id;
  if (q.created_after) f.createdAfter = new Date(q.created_after);
  if (q.created_before) f.createdBefore = new Date(q.created_before);
  return f;
}

/** Reading and cancelling the jobs of the caller's organization. */
export class ManageJobsUseCase {
  constructor(
    private readonly uow: UnitOfWork<ExecutionRepositories>,
    private readonly queue: JobQueue,
    private readonly signals: JobSignals,
    private readonly slots?: Pick<TargetSlots, 'leaveTurns'>,
  ) {}

  async get(principal: Principal, id: string) {
    const job = await this.uow.run((repos) => repos.jobs.findById(principal.organizationId, id));
    if (!job) throw new NotFoundError('job', id);
    return jobView(job);
  }

  async list(principal: Principal, q: ListJobsQuery) {
    const res = await this.uow.run((repos) => repos.jobs.list(principal.organizationId, jobFilterOf(q), q));
    return { items: res.items.map(jobView), total: res.total };
  }

  /** Log lines of the job (all attempts), oldest first, from the persisted events. */
  async logs(principal: Principal, id: string, after: string | null, limit: number) {
    return this.uow.run(async (repos) => {
      if (!(await repos.jobs.findById(principal.organizationId, id))) throw new NotFoundError('job', id);
      const events = await repos.events.list(principal.organizationId, id, after, limit, ['log']);
      return {
        items: events.map((e) => {
          const d = e.data as { stream?: string; level?: string; message?: string; at: string };
          return {
            id: e.streamId,
            attempt: e.attempt,
            at: d.at,
            stream: d.stream,
            level: d.level,
            message: d.message,
          };
        }),
        next_after: events.at(-1)?.streamId ?? after,
      };
    });
  }

  /**
   * A job cancelled while it waited for a full target gives up its places in the pool's targets' lines
   * at once, rather than holding the next in line back until the places lapse. Best effort: they lapse.
   */
  private async leaveTurns(organizationId: string, pool: string, holder: string): Promise<void> {
    if (!this.slots) return;
    try {
      const targets = await this.uow.run((repos) => repos.targets.activeForPool(organizationId, pool));
      await this.slots.leaveTurns(
        targets.map((t) => t.id),
        holder,
      );
    } catch {
      // the places lapse on their own within seconds
    }
  }

  /**
   * A queued job is removed from its queue and ends `cancelled` at once; a running one is signalled
   * and its worker stops the container within seconds (the job ends `cancelled` when it reports).
   * Cancelling a finished job changes nothing.
   */
  async cancel(principal: Principal, id: string, ip: string | null) {
    const now = new Date();
    const job = await this.uow.run(async (repos) => {
      const j = await repos.jobs.markCancelRequested(principal.organizationId, id, now);
      if (!j) throw new NotFoundError('job', id);
      if (!isTerminal(j.status)) {
        await repos.audit.record({
          actor: actorOf(principal, ip),
          action: 'job.cancel_requested',
          resourceType: 'execution_job',
          resourceId: id,
          details: { status: j.status, attempt: j.attempt },
        });
      }
      return j;
    });
    if (job.status === 'queued') {
      // whether or not a worker took it meanwhile, the conditional update decides who wins
      const removed = await this.queue.removeQueued(job.pool, job.id, job.attempt);
      const cancelled = await this.uow.run((repos) =>
        repos.jobs.transition(job.id, job.attempt, transitionFrom('cancel_queued'), 'cancelled', {
          completedAt: now,
          error: 'cancelled before it started',
        }),
      );
      if (cancelled) {
        // a worker held its queue entry (taking it, or giving it back deferred): the cancel flag makes
        // that worker, or the next one to take the entry, end it before any container starts
        if (!removed) await this.signals.cancel(job.id, job.workerId);
        await this.leaveTurns(job.organizationId, job.pool, slotHolder(job.id, job.attempt));
        return jobView(cancelled);
      }
    }
    if (!isTerminal(job.status)) await this.signals.cancel(job.id, job.workerId);
    const latest = await this.uow.run((repos) => repos.jobs.findById(principal.organizationId, id));
    return jobView(latest ?? job);
  }
}
