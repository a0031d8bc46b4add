import type { Workload } from '@agentfleet/fleet';

/**
 * The workload of a worker that consumes no queues yet: it only tracks whether it may take work.
 * Queue processors (execution, ingestion, supervision) replace it as they arrive.
 */
export class IdleWorkload implements Workload {
  private paused = false;
  constructor(private readonly slots: number) {}
  running(): string[] {
    return [];
  }
  freeSlots(): number {
    return this.paused ? 0 : this.slots;
  }
  async pause() {
    this.paused = true;
  }
  async resume() {
    this.paused = false;
  }
  async settle() {}
}
