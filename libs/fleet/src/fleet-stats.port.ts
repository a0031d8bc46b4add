/** What the fleet looks like in PostgreSQL, for metrics (every organization: operators watch the instance). */
export interface FleetStats {
  /** Workers by status and scheduling (offline ones included: they are kept for history). */
  workers: { status: string; scheduling: string; count: number }[];
  /** Pools in use: of active execution targets, of live worker tokens, and of online workers. */
  pools: string[];
  /** Online workers (any scheduling), with the pools they consume and their slots. */
  online: { id: string; pools: string[]; concurrency: number; scheduling: string }[];
  /** Active execution targets with their capacity.max_concurrent (their leases are read from Redis). */
  targets: { id: string; name: string; pool: string; maxConcurrent: number }[];
}

/** Port: read-only, cross-organization fleet statistics (the leader's metrics collector). */
export interface FleetStatsReader {
  read(): Promise<FleetStats>;
}
