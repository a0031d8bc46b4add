export * from './redis-keys';
export * from './redis-connection';
export * from './redis-fleet-liveness.adapter';
export * from './redis-heartbeat.adapter';
export * from './redis-leader-lock.adapter';
export * from './redis-rate-limiter.adapter';
export * from './redis-job-events.adapter';
export * from './redis-breaker-board.adapter';
