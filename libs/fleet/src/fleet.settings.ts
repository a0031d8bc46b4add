/** Fleet timing, set once in the control plane and handed to every worker at registration. */
export interface FleetSettings {
  heartbeatIntervalMs: number;
  /** A worker whose last heartbeat is older than this is `lost`. */
  gracePeriodMs: number;
  /** Namespace of every Redis key (ARCHITECTURE.md §4), so workers use the same layout. */
  redisKeyPrefix: string;
}
