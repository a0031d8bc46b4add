import { type UnitOfWork, transitionFrom } from '@agentfleet/domain';
import type { ExecutionJobRecord, ExecutionRepositories, JobQueue } from './execution.ports';
import { runPayload } from './submit-job.use-case';

/**
 * Fencing: jobs of a worker presumed dead (lost, or its queue lock expired) go back to their queue with
 * attempt + 1. Whatever the old attempt still reports is dropped by the attempt check; the next worker
 * removes its leftover containers before it starts.
 */
export class HandBackJobsUseCase {
  constructor(
    private readonly uow: UnitOfWork<ExecutionRepositories>,
    private readonly queue: JobQueue,
  ) {}

  async ofLostWorkers(workerIds: readonly string[]): Promise<ExecutionJobRecord[]> {
    if (!workerIds.length) return [];
    return this.handBack(await this.uow.run((repos) => repos.jobs.activeOnWorkers(workerIds)));
  }

  /** Every cycle: whatever still runs on a lost or offline worker (repairs a hand-back that failed midway). */
  async sweep(limit = 500): Promise<ExecutionJobRecord[]> {
    return this.handBack(await this.uow.run((repos) => repos.jobs.activeOnDeadWorkers(limit)));
  }

  private async handBack(active: readonly ExecutionJobRecord[]): Promise<ExecutionJobRecord[]> {
    const out: ExecutionJobRecord[] = [];
    for (const j of active) {
      const r = await this.one(j.id, j.attempt, `worker ${j.workerId} lost during attempt ${j.attempt}`);
      if (r) out.push(r);
    }
    return out;
  }

  /** The queue gave up on an attempt (its lock expired: the worker stalled or died). */
  async ofStalledAttempt(jobId: string, attempt: number): Promise<ExecutionJobRecord | undefined> {
    return this.one(jobId, attempt, `attempt ${attempt} stalled (queue lock expired)`);
  }

  private async one(jobId: string, attempt: number, reason: string): Promise<ExecutionJobRecord | undefined> {
    const res = await this.uow.run(async (repos) => {
      const requeued = await repos.jobs.requeue(jobId, attempt, transitionFrom('requeue'), {
        lastFailureReason: reason,
        workerId: null,
        containerId: null,
      });
      if (!requeued) return undefined;
      if (requeued.cancelRequestedAt) {
        // nobody will run it again: a cancelled job whose worker died ends here
        return repos.jobs.transition(requeued.id, requeued.attempt, ['queued'], 'cancelled', {
          completedAt: new Date(),
          error: 'cancelled; its worker was lost',
        });
      }
      return {
        job: requeued,
        targets: await repos.targets.activeForPool(requeued.organizationId, requeued.pool),
      };
    });
    if (!res) return undefined;
    if ('job' in res) {
      await this.queue.enqueue(runPayload(res.job, res.targets), { priority: res.job.priority });
      return res.job;
    }
    return res;
  }
}
