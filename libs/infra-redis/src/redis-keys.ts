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
  leader(role: string) {
    return `${this.prefix}leader:${role}`;
  }
  rateLimit(key: string, window: number) {
    return `${this.prefix}ratelimit:${key}:${window}`;
  }
}
