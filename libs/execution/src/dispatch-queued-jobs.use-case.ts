import { type UnitOfWork, transitionFrom } from '@agentfleet/domain';
import type { AttemptEvidence, ExecutionJobRecord, ExecutionRepositories, JobQueue } from './execution.ports';
import { runPayload } from './submit-job.use-case';

export interface DispatchResult {
  /** Queued in PostgreSQL with no queue entry: enqueued now. */
  enqueued: ExecutionJobRecord[];
  /** Cancelled while queued, but the queue could not be told: ended here instead of run. */
  cancelled: ExecutionJobRecord[];
}

/**
 * The dispatcher sweep. A job (or a retry, or a hand-back) is committed before it is enqueued, so a
 * control plane that died in between, or an enqueue that failed because Redis was away, leaves a
 * `queued` attempt that no worker will ever see. This finds such attempts and enqueues them.
 *
 * Safe against running an attempt twice: an attempt the queue still knows (in any state) is left
 * alone — re-adding it would be a no-op anyway, since its queue id is `<job id>-a<attempt>` — and so
 * is one that wrote events (it ran, its queue entry was since removed, and its events have not reached
 * PostgreSQL yet). Pages through the queued jobs with a cursor, so a long backlog is covered in turn.
 */
export class DispatchQueuedJobsUseCase {
  private cursor: { queuedAt: Date; id: string } | null = null;

  constructor(
    private readonly uow: UnitOfWork<ExecutionRepositories>,
    private readonly queue: JobQueue,
    private readonly evidence: AttemptEvidence,
  ) {}

  /** One page of jobs queued since before `olderThan`; the next call takes the next page. */
  async sweep(olderThan: Date, limit = 500): Promise<DispatchResult> {
    const page = await this.uow.run((repos) => repos.jobs.queuedBefore(olderThan, this.cursor, limit));
    const last = page.at(-1);
    // a short page was the end of the list: the next sweep starts from the oldest again
    this.cursor = last && page.length === limit ? { queuedAt: last.queuedAt, id: last.id } : null;
    const result: DispatchResult = { enqueued: [], cancelled: [] };
    for (const job of page) {
      if (await this.queue.has(job.pool, job.id, job.attempt)) continue;
      if (await this.evidence.ran(job.id, job.attempt)) continue;
      if (job.cancelRequestedAt) {
        const cancelled = await this.uow.run((repos) =>
          repos.jobs.transition(job.id, job.attempt, transitionFrom('cancel_queued'), 'cancelled', {
            completedAt: new Date(),
            error: 'cancelled before it started',
          }),
        );
        if (cancelled) result.cancelled.push(cancelled);
        continue;
      }
      const targets = await this.uow.run((repos) =>
        repos.targets.activeForPool(job.organizationId, job.pool),
      );
      await this.queue.enqueue(runPayload(job, targets), { priority: job.priority });
      result.enqueued.push(job);
    }
    return result;
  }
}
