import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DispatchQueuedJobsUseCase } from '@agentfleet/execution';
import { ReaperService } from '../fleet/reaper.service';

const SWEEP_EVERY_MS = 5_000;
/** A job's own enqueue follows its commit within milliseconds: older than this with no queue entry, it was lost. */
const MIN_QUEUED_MS = 5_000;

/**
 * Runs the dispatcher sweep every few seconds on the reaper's leader (one replica at a time; two at
 * once during a hand-over are harmless: enqueueing an attempt the queue holds is a no-op). A sweep
 * that fails (PostgreSQL or Redis away) is logged and tried again at the next one.
 */
@Injectable()
export class QueuedJobDispatcherService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('dispatcher');
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private current: Promise<void> = Promise.resolve();

  constructor(
    private readonly dispatch: DispatchQueuedJobsUseCase,
    private readonly reaper: ReaperService,
  ) {}

  onApplicationBootstrap() {
    this.running = true;
    this.schedule();
  }

  async onApplicationShutdown() {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }

  private schedule() {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.current = this.sweep().finally(() => this.schedule());
    }, SWEEP_EVERY_MS);
  }

  private async sweep(): Promise<void> {
    if (!this.reaper.isLeader) return;
    try {
      const r = await this.dispatch.sweep(new Date(Date.now() - MIN_QUEUED_MS));
      for (const j of r.enqueued) {
        this.logger.warn({
          job_id: j.id,
          attempt: j.attempt,
          organization_id: j.organizationId,
          msg: 'queued job had no queue entry: enqueued by the dispatcher sweep',
        });
      }
      for (const j of r.cancelled) {
        this.logger.log({
          job_id: j.id,
          attempt: j.attempt,
          organization_id: j.organizationId,
          msg: 'job cancelled while it had no queue entry: ended by the dispatcher sweep',
        });
      }
    } catch (e) {
      this.logger.warn(`dispatcher sweep failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
