import type { ExecutionRunPayload, JobEvent } from '@agentfleet/contracts';
import { type UnitOfWork, retryDecision, transitionFrom } from '@agentfleet/domain';
import type { ExecutionJobRecord, ExecutionRepositories, JobQueue, StoredJobEvent } from './execution.ports';
import { runPayload } from './submit-job.use-case';

export interface StreamEntry {
  streamId: string;
  event: JobEvent;
}

export interface PersistResult {
  accepted: number;
  /** Events of an attempt that is no longer current, or of jobs that do not exist: fenced off. */
  dropped: number;
  finished: ExecutionJobRecord[];
  retried: ExecutionJobRecord[];
}

/**
 * The control plane's side of the progress streams: one batch of entries becomes one transaction —
 * events stored (idempotently, by stream id) and state transitions applied with conditional updates —
 * and only then may the caller acknowledge the entries. Retries are enqueued after the commit.
 */
export class PersistJobEventsUseCase {
  constructor(
    private readonly uow: UnitOfWork<ExecutionRepositories>,
    private readonly queue: JobQueue,
  ) {}

  async execute(entries: readonly StreamEntry[]): Promise<PersistResult> {
    if (!entries.length) return { accepted: 0, dropped: 0, finished: [], retried: [] };
    const retries: { payload: ExecutionRunPayload; delayMs: number; priority: number }[] = [];
    const result = await this.uow.run(async (repos) => {
      const jobs = new Map(
        (await repos.jobs.findManyUnscoped([...new Set(entries.map((e) => e.event.job_id))])).map((j) => [
          j.id,
          j,
        ]),
      );
      const stored: StoredJobEvent[] = [];
      const finished: ExecutionJobRecord[] = [];
      const retried: ExecutionJobRecord[] = [];
      let dropped = 0;
      for (const { streamId, event } of entries) {
        const job = jobs.get(event.job_id);
        // fencing: an older attempt's events (a worker that was presumed dead) change nothing
        if (!job || event.attempt !== job.attempt) {
          dropped++;
          continue;
        }
        stored.push({
          streamId,
          jobId: job.id,
          organizationId: job.organizationId,
          attempt: event.attempt,
          type: event.type,
          data: event,
        });
        const next = await this.apply(repos, job, event, retries);
        if (next) {
          jobs.set(job.id, next);
          if (event.type === 'finished') (next.status === 'queued' ? retried : finished).push(next);
        }
      }
      await repos.events.insertMany(stored);
      return { accepted: stored.length, dropped, finished, retried };
    });
    for (const r of retries)
      await this.queue.enqueue(r.payload, { priority: r.priority, delayMs: r.delayMs });
    return result;
  }

  private async apply(
    repos: ExecutionRepositories,
    job: ExecutionJobRecord,
    event: JobEvent,
    retries: { payload: ExecutionRunPayload; delayMs: number; priority: number }[],
  ): Promise<ExecutionJobRecord | undefined> {
    const at = new Date(event.at);
    switch (event.type) {
      case 'started':
        return repos.jobs.transition(job.id, job.attempt, transitionFrom('start'), 'running', {
          workerId: event.worker_id,
          containerId: event.container_id,
          targetHost: event.target_host,
          ...(event.target_id ? { targetId: event.target_id } : {}),
          startedAt: at,
          timeoutAt: new Date(at.getTime() + job.timeoutSeconds * 1000),
        });
      case 'progress':
        await repos.jobs.update(job.id, job.attempt, { progress: event.progress });
        return undefined;
      case 'usage':
        await repos.jobs.update(job.id, job.attempt, {
          addPromptTokens: event.prompt_tokens,
          addCompletionTokens: event.completion_tokens,
          ...(event.cost_usd !== undefined ? { addCostUsd: event.cost_usd } : {}),
        });
        return undefined;
      case 'log':
        return undefined;
      case 'finished':
        return this.finish(repos, job, event, at, retries);
    }
  }

  private async finish(
    repos: ExecutionRepositories,
    job: ExecutionJobRecord,
    event: Extract<JobEvent, { type: 'finished' }>,
    at: Date,
    retries: { payload: ExecutionRunPayload; delayMs: number; priority: number }[],
  ): Promise<ExecutionJobRecord | undefined> {
    const from =
      event.status === 'failed_circuit_open' ? transitionFrom('fail_circuit_open') : transitionFrom('finish');
    if (job.cancelRequestedAt === null) {
      const target = job.targetId ? await repos.targets.findByIdUnscoped(job.targetId) : undefined;
      const decision = retryDecision(
        event.status,
        {
          maxRetries: job.maxRetries,
          backoffMs: job.retryBackoffMs,
          oomRetry: { enabled: job.oomRetryEnabled, maxMemoryMb: job.oomRetryMaxMemoryMb },
        },
        {
          retryCount: job.retryCount,
          oomRetried: job.oomRetried,
          memoryLimitMb: job.memoryLimitMb,
          targetMaxMemoryMb: target?.capacity.max_memory_mb ?? job.memoryLimitMb,
        },
      );
      if (decision.retry) {
        const requeued = await repos.jobs.requeue(job.id, job.attempt, from, {
          memoryLimitMb: decision.memoryLimitMb,
          lastFailureReason: `attempt ${job.attempt}: ${decision.reason}${event.error ? ` (${event.error})` : ''}`,
          exitCode: event.exit_code,
          oomEvidence: event.oom_evidence,
          peakMemoryMb: event.peak_memory_mb,
          ...(decision.kind === 'oom' ? { oomRetried: true } : { retryCount: job.retryCount + 1 }),
        });
        if (requeued) {
          const poolTargets = await repos.targets.activeForPool(requeued.organizationId, requeued.pool);
          retries.push({
            payload: runPayload(requeued, poolTargets),
            delayMs: decision.delayMs,
            priority: requeued.priority,
          });
        }
        return requeued;
      }
    }
    return repos.jobs.transition(job.id, job.attempt, from, event.status, {
      exitCode: event.exit_code,
      oomEvidence: event.oom_evidence,
      peakMemoryMb: event.peak_memory_mb,
      error: event.error,
      result: event.result ?? null,
      completedAt: at,
      ...(event.status === 'completed' ? { progress: 1 } : {}),
      ...(event.status === 'oom' ? { lastFailureReason: `oom at ${event.memory_limit_mb} MiB` } : {}),
    });
  }
}
