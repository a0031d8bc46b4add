import type { ExecutionRunPayload, JobEvent } from '@agentfleet/contracts';
import { type RetryDecision, type UnitOfWork, retryDecision, transitionFrom } from '@agentfleet/domain';
import type {
  ExecutionJobRecord,
  ExecutionRepositories,
  JobLiveFieldsChange,
  JobQueue,
  JobTransitionChange,
  TargetRecord,
} from './execution.ports';
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

type Started = Extract<JobEvent, { type: 'started' }>;
type Finished = Extract<JobEvent, { type: 'finished' }>;
type Retry = { payload: ExecutionRunPayload; delayMs: number; priority: number };

/** What one round does to one job: a status change, or its live fields (progress, usage). */
type Step =
  | { kind: 'started'; job: ExecutionJobRecord; event: Started }
  | { kind: 'finished'; job: ExecutionJobRecord; event: Finished }
  /** An attempt that started and ended with nothing but logs between: `finishAt` is the finish's entry. */
  | { kind: 'started+finished'; job: ExecutionJobRecord; start: Started; finish: Finished; finishAt: number }
  | { kind: 'live'; change: JobLiveFieldsChange };

/**
 * The control plane's side of the progress streams: one batch of entries becomes one transaction —
 * events stored (idempotently, by stream id) and state transitions applied with conditional updates —
 * and only then may the caller acknowledge the entries. Retries are enqueued after the commit.
 *
 * The batch is applied in rounds, one step per job per round, so that its writes are a few multi-row
 * statements rather than one statement per event: round 1 takes each job's first status change (or
 * its run of progress/usage events, merged), round 2 the next one, and so on. Within a job the order
 * of the stream is kept, and each step is checked against the job as the previous round left it —
 * the same (status, attempt) conditions, fencing and outcomes as applying the events one by one.
 *
 * An attempt whose `started` and `finished` are in the same batch with nothing but logs between (every
 * short job) is moved in one step, queued → its end, with both events' fields: the row the two
 * transitions would leave, written once. It applies only where the start would have (the job still
 * queued at that attempt); otherwise the finish goes on alone, as it would have after a refused start.
 */
export class PersistJobEventsUseCase {
  constructor(
    private readonly uow: UnitOfWork<ExecutionRepositories>,
    private readonly queue: JobQueue,
  ) {}

  async execute(entries: readonly StreamEntry[]): Promise<PersistResult> {
    if (!entries.length) return { accepted: 0, dropped: 0, finished: [], retried: [] };
    const retries: Retry[] = [];
    const result = await this.uow.run(async (repos) => {
      const batch = new Batch(repos, entries, retries);
      await batch.load();
      while (await batch.round());
      return batch.store();
    });
    if (retries.length) await this.queue.enqueueMany(retries);
    return result;
  }
}

/** One batch inside its transaction: the jobs as the rounds change them, and what to report. */
class Batch {
  private readonly jobs = new Map<string, ExecutionJobRecord>();
  /** Per job, the positions in `entries` not yet looked at, in stream order. */
  private readonly queues = new Map<string, number[]>();
  private readonly accepted: boolean[];
  private readonly finished: ExecutionJobRecord[] = [];
  private readonly retried: ExecutionJobRecord[] = [];
  /** Targets and pools read once per batch: many jobs of a batch share them. */
  private readonly targets = new Map<string, Promise<TargetRecord | undefined>>();
  private readonly pools = new Map<string, Promise<TargetRecord[]>>();

  constructor(
    private readonly repos: ExecutionRepositories,
    private readonly entries: readonly StreamEntry[],
    private readonly retries: Retry[],
  ) {
    this.accepted = entries.map(() => false);
  }

  async load(): Promise<void> {
    const ids = [...new Set(this.entries.map((e) => e.event.job_id))];
    for (const j of await this.repos.jobs.findManyUnscoped(ids)) this.jobs.set(j.id, j);
    this.entries.forEach((e, i) => {
      // a job that does not exist: its events are dropped
      if (!this.jobs.has(e.event.job_id)) return;
      const q = this.queues.get(e.event.job_id) ?? [];
      q.push(i);
      this.queues.set(e.event.job_id, q);
    });
  }

  /** Applies the next step of every job that has one; false when none is left. */
  async round(): Promise<boolean> {
    const steps: Step[] = [];
    for (const [jobId, queue] of this.queues) {
      const step = this.nextStep(this.jobs.get(jobId)!, queue);
      if (step) steps.push(step);
      if (!queue.length) this.queues.delete(jobId);
    }
    if (!steps.length) return false;

    const transitions: JobTransitionChange[] = [];
    const live: JobLiveFieldsChange[] = [];
    const finishing = new Set<string>();
    /** Combined steps: job id → its finish entry, run alone next round if the combined move did not apply. */
    const combined = new Map<string, number>();
    for (const s of steps) {
      switch (s.kind) {
        case 'live':
          live.push(s.change);
          break;
        case 'started':
          transitions.push(startChange(s.job, s.event));
          break;
        case 'finished': {
          // a retry re-queues the job instead of ending it (rare: one statement of its own)
          const decision = await this.retryDecision(s.job, s.event);
          if (decision.retry) {
            await this.requeue(s.job, s.event, decision);
            break;
          }
          transitions.push(finishChange(s.job, s.event));
          finishing.add(s.job.id);
          break;
        }
        case 'started+finished': {
          // decided on the job as the start leaves it: only the target may change (a re-routed start)
          const decision = await this.retryDecision(
            { ...s.job, targetId: s.start.target_id ?? s.job.targetId },
            s.finish,
          );
          if (decision.retry) {
            // a retry is decided and written on the running attempt: one step at a time
            transitions.push(startChange(s.job, s.start));
            this.putBack(s.job.id, s.finishAt);
            break;
          }
          const start = startChange(s.job, s.start);
          transitions.push({
            ...start,
            to: s.finish.status,
            patch: { ...start.patch, ...finishChange(s.job, s.finish).patch },
          });
          finishing.add(s.job.id);
          combined.set(s.job.id, s.finishAt);
          break;
        }
      }
    }
    // one step per job in a round: the two statements touch different jobs, their order does not matter
    await this.repos.jobs.updateMany(live);
    for (const next of await this.repos.jobs.transitionMany(transitions)) {
      this.jobs.set(next.id, next);
      combined.delete(next.id);
      if (finishing.has(next.id)) this.finished.push(next);
    }
    // the start was refused (the job was no longer queued at that attempt): the finish on its own
    for (const [jobId, finishAt] of combined) this.putBack(jobId, finishAt);
    return true;
  }

  /** Makes an entry the next one of its job again (already accepted: it is stored whatever it changes). */
  private putBack(jobId: string, at: number): void {
    const q = this.queues.get(jobId) ?? [];
    q.unshift(at);
    this.queues.set(jobId, q);
  }

  /** Stores the accepted events in stream order (the logs API pages by insertion order). */
  async store(): Promise<PersistResult> {
    const stored = this.entries.flatMap(({ streamId, event }, i) => {
      if (!this.accepted[i]) return [];
      return [
        {
          streamId,
          jobId: event.job_id,
          organizationId: this.jobs.get(event.job_id)!.organizationId,
          attempt: event.attempt,
          type: event.type,
          data: event,
        },
      ];
    });
    await this.repos.events.insertMany(stored);
    return {
      accepted: stored.length,
      dropped: this.entries.length - stored.length,
      finished: this.finished,
      retried: this.retried,
    };
  }

  /**
   * Takes the job's events up to its next status change. Logs are only stored; consecutive progress and
   * usage events merge into one change (the last progress, the summed usage: the same end state). An
   * event of an attempt other than the job's current one is fenced off, as the job stands after the
   * previous round.
   */
  private nextStep(job: ExecutionJobRecord, queue: number[]): Step | undefined {
    let live: JobLiveFieldsChange | undefined;
    while (queue.length) {
      const i = queue[0]!;
      const event = this.entries[i]!.event;
      if (event.attempt !== job.attempt) {
        queue.shift();
        continue;
      }
      switch (event.type) {
        case 'log':
          break;
        case 'progress':
          live ??= { id: job.id, attempt: job.attempt };
          live.progress = event.progress;
          break;
        case 'usage':
          live ??= { id: job.id, attempt: job.attempt };
          live.addPromptTokens = (live.addPromptTokens ?? 0) + event.prompt_tokens;
          live.addCompletionTokens = (live.addCompletionTokens ?? 0) + event.completion_tokens;
          if (event.cost_usd !== undefined) live.addCostUsd = (live.addCostUsd ?? 0) + event.cost_usd;
          break;
        case 'started':
        case 'finished': {
          // the fields gathered so far go first; the status change waits for the next round
          if (live) return { kind: 'live', change: live };
          queue.shift();
          this.accepted[i] = true;
          if (event.type === 'finished') return { kind: 'finished', job, event };
          const finishAt = this.finishAfter(job, queue);
          if (finishAt === undefined) return { kind: 'started', job, event };
          const finish = this.entries[finishAt]!.event as Finished;
          return { kind: 'started+finished', job, start: event, finish, finishAt };
        }
      }
      queue.shift();
      this.accepted[i] = true;
    }
    return live ? { kind: 'live', change: live } : undefined;
  }

  /**
   * After a start: the position of the same attempt's `finished` when only logs of it come first (the
   * logs are taken, as any round would); undefined otherwise, leaving the queue as it was.
   */
  private finishAfter(job: ExecutionJobRecord, queue: number[]): number | undefined {
    let k = 0;
    for (; k < queue.length; k++) {
      const event = this.entries[queue[k]!]!.event;
      if (event.attempt !== job.attempt) return undefined;
      if (event.type === 'finished') break;
      if (event.type !== 'log') return undefined;
    }
    if (k === queue.length) return undefined;
    const taken = queue.splice(0, k + 1);
    for (const i of taken) this.accepted[i] = true;
    return taken[k];
  }

  /** Whether the attempt's retry policy re-runs it after this end (never once a cancel was asked for). */
  private async retryDecision(job: ExecutionJobRecord, event: Finished): Promise<RetryDecision> {
    if (job.cancelRequestedAt !== null) return { retry: false };
    const target = job.targetId ? await this.target(job.targetId) : undefined;
    return retryDecision(
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
  }

  /** Back to queued as the next attempt (conditional, like every transition), enqueued after the commit. */
  private async requeue(
    job: ExecutionJobRecord,
    event: Finished,
    decision: Extract<RetryDecision, { retry: true }>,
  ): Promise<void> {
    const requeued = await this.repos.jobs.requeue(job.id, job.attempt, fromOf(event), {
      memoryLimitMb: decision.memoryLimitMb,
      lastFailureReason: `attempt ${job.attempt}: ${decision.reason}${event.error ? ` (${event.error})` : ''}`,
      exitCode: event.exit_code,
      oomEvidence: event.oom_evidence,
      peakMemoryMb: event.peak_memory_mb,
      ...(decision.kind === 'oom' ? { oomRetried: true } : { retryCount: job.retryCount + 1 }),
    });
    if (requeued) {
      this.jobs.set(requeued.id, requeued);
      this.retried.push(requeued);
      const poolTargets = await this.pool(requeued.organizationId, requeued.pool);
      this.retries.push({
        payload: runPayload(requeued, poolTargets),
        delayMs: decision.delayMs,
        priority: requeued.priority,
      });
    }
  }

  private target(id: string): Promise<TargetRecord | undefined> {
    let t = this.targets.get(id);
    if (!t) {
      t = this.repos.targets.findByIdUnscoped(id);
      this.targets.set(id, t);
    }
    return t;
  }

  private pool(organizationId: string, pool: string): Promise<TargetRecord[]> {
    const key = `${organizationId}/${pool}`;
    let p = this.pools.get(key);
    if (!p) {
      p = this.repos.targets.activeForPool(organizationId, pool);
      this.pools.set(key, p);
    }
    return p;
  }
}

function startChange(job: ExecutionJobRecord, event: Started): JobTransitionChange {
  const at = new Date(event.at);
  return {
    id: job.id,
    attempt: job.attempt,
    from: transitionFrom('start'),
    to: 'running',
    patch: {
      workerId: event.worker_id,
      containerId: event.container_id,
      targetHost: event.target_host,
      ...(event.target_id ? { targetId: event.target_id } : {}),
      startedAt: at,
      timeoutAt: new Date(at.getTime() + job.timeoutSeconds * 1000),
    },
  };
}

function fromOf(event: Finished) {
  return event.status === 'failed_circuit_open'
    ? transitionFrom('fail_circuit_open')
    : transitionFrom('finish');
}

function finishChange(job: ExecutionJobRecord, event: Finished): JobTransitionChange {
  return {
    id: job.id,
    attempt: job.attempt,
    from: fromOf(event),
    to: event.status,
    patch: {
      exitCode: event.exit_code,
      oomEvidence: event.oom_evidence,
      peakMemoryMb: event.peak_memory_mb,
      error: event.error,
      result: event.result ?? null,
      completedAt: new Date(event.at),
      ...(event.status === 'completed' ? { progress: 1 } : {}),
      ...(event.status === 'oom' ? { lastFailureReason: `oom at ${event.memory_limit_mb} MiB` } : {}),
    },
  };
}
