/** Every Redis key AgentFleet uses (ARCHITECTURE.md §4), under one namespace so installations can share a Redis. */
export class RedisKeys {
  constructor(readonly prefix: string) {}
  worker(id: string) {
    return `${this.prefix}worker:${id}`;
  }
  workerTasks(id: string) {
    return `${this.prefix}worker:${id}:tasks`;
  }
  workersAlive() {
    return `${this.prefix}workers:alive`;
  }
  /** Revocation and expiry of a worker token, checked by every heartbeat. */
  workerToken(id: string) {
    return `${this.prefix}worker-token:${id}`;
  }
  /** Per-job stream: what SSE clients read and resume from (capped, expires a day after its last event). */
  jobEvents(jobId: string) {
    return `${this.prefix}events:job:${jobId}`;
  }
  /** Every job's events once more, read by the control plane's consumer group and persisted. */
  jobEventsFirehose() {
    return `${this.prefix}events:jobs`;
  }
  jobCancelFlag(jobId: string) {
    return `${this.prefix}job:${jobId}:cancel`;
  }
  cancelChannel() {
    return `${this.prefix}signals:cancel`;
  }
  /** Breaker state of a target as each worker sees it: field = worker id, value = `state|epoch ms`. */
  breakerStates(targetId: string) {
    return `${this.prefix}breakers:${targetId}`;
  }
  /** Attempts waiting for a slot of a full target, scored by their place (priority, then age). */
  targetWaiting(targetId: string) {
    return `${this.prefix}target:${targetId}:waiting`;
  }
  /** When each waiting attempt's place lapses unless it asks again (ms since the epoch, Redis time). */
  targetWaitingUntil(targetId: string) {
    return `${this.prefix}target:${targetId}:waiting-until`;
  }
  /**
   * Slot leases of a target (capacity.max_concurrent) held by every worker: member = attempt
   * (`<job id>:a<attempt>`), score = lease expiry in Redis time (ms).
   */
  targetSlots(targetId: string) {
    return `${this.prefix}target:${targetId}:slots`;
  }
  breakerResetChannel() {
    return `${this.prefix}signals:breaker-reset`;
  }
  leader(role: string) {
    return `${this.prefix}leader:${role}`;
  }
  rateLimit(key: string, window: number) {
    return `${this.prefix}ratelimit:${key}:${window}`;
  }
}
