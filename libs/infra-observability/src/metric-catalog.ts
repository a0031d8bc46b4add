/**
 * Every metric AgentFleet exports besides prom-client's default process metrics: name, type, labels,
 * which process exports it, and the buckets of each histogram. The processes build their registries
 * from this list; dashboards, alert rules and the /metrics e2e test check themselves against it.
 *
 * Labels are bounded sets only: pools, targets and routes are configured by operators, statuses come
 * from the domain. No job id, worker id, organization or user input is ever a label.
 *
 * Label names avoid the ones Prometheus and the Prometheus Operator attach on their own
 * (job, instance, namespace, pod, container, service, endpoint).
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Component = 'control-plane' | 'worker';

export interface MetricDefinition {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly component: Component | 'both';
  readonly buckets?: readonly number[];
  /** Set by the reaper's leader only (one replica), so sums over replicas do not double count. */
  readonly leaderOnly?: boolean;
}

/** Seconds: from sub-millisecond API calls to a 10 s slow request. */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds a job waits between submission and its container starting: ms when idle, minutes when backed up. */
const WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds a job runs: a no-op to the 24 h deadline cap. */
const DURATION_BUCKETS = [0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];
/** Seconds to create and start a container: process spawn (ms) to a Kubernetes pod being scheduled (minutes). */
const START_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds of one Redis or PostgreSQL round trip of the fleet's loops. */
const ROUND_TRIP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

export const METRICS = {
  buildInfo: {
    name: 'agentfleet_build_info',
    type: 'gauge',
    help: 'Always 1; labels tell the process and its version',
    labels: ['component', 'version'],
    component: 'both',
  },

  // ── API (control plane) ───────────────────────────────────────────────────────────────────────
  httpRequestDuration: {
    name: 'agentfleet_http_request_duration_seconds',
    type: 'histogram',
    help: 'HTTP requests by route pattern, method and status code, from arrival to the last byte (event streams excluded)',
    labels: ['method', 'route', 'status'],
    component: 'control-plane',
    buckets: HTTP_BUCKETS,
  },
  httpStreamsOpen: {
    name: 'agentfleet_http_event_streams_open',
    type: 'gauge',
    help: 'Server-sent event streams of job events open on this replica',
    labels: [],
    component: 'control-plane',
  },

  // ── jobs (control plane: exactly once per job, from PostgreSQL transitions) ───────────────────
  jobsSubmitted: {
    name: 'agentfleet_jobs_submitted_total',
    type: 'counter',
    help: 'Execution jobs accepted by the API (an idempotent replay is not counted)',
    labels: ['pool'],
    component: 'control-plane',
  },
  jobsFinished: {
    name: 'agentfleet_jobs_finished_total',
    type: 'counter',
    help: 'Execution jobs that reached a final status (completed, failed, oom, timed_out, cancelled, failed_circuit_open)',
    labels: ['pool', 'status'],
    component: 'control-plane',
  },
  jobsRequeued: {
    name: 'agentfleet_jobs_requeued_total',
    type: 'counter',
    help: 'Attempts put back in their queue with attempt + 1 (retry after failure, OOM retry with more memory, worker lost, lock expired)',
    labels: ['pool', 'reason'],
    component: 'control-plane',
  },
  jobEventsPersisted: {
    name: 'agentfleet_job_events_persisted_total',
    type: 'counter',
    help: 'Job stream events read by the consumer group: stored in PostgreSQL, or dropped (older attempt, job already final)',
    labels: ['result'],
    component: 'control-plane',
  },
  jobEventsBatchDuration: {
    name: 'agentfleet_job_events_batch_duration_seconds',
    type: 'histogram',
    help: 'Time to commit one batch of stream events to PostgreSQL',
    labels: [],
    component: 'control-plane',
    buckets: ROUND_TRIP_BUCKETS,
  },
  streamConsumerLag: {
    name: 'agentfleet_stream_consumer_lag',
    type: 'gauge',
    help: 'Entries of the job-events firehose not yet delivered to the consumer group (XINFO GROUPS lag)',
    labels: ['stream'],
    component: 'control-plane',
    leaderOnly: true,
  },
  streamConsumerPending: {
    name: 'agentfleet_stream_consumer_pending',
    type: 'gauge',
    help: 'Entries delivered to a consumer but not yet acknowledged (not yet committed to PostgreSQL)',
    labels: ['stream'],
    component: 'control-plane',
    leaderOnly: true,
  },

  // ── queues (control plane, leader) ────────────────────────────────────────────────────────────
  queueJobs: {
    name: 'agentfleet_queue_jobs',
    type: 'gauge',
    help: 'Entries of a pool queue by BullMQ state (waiting, prioritized, delayed, active, paused, failed, completed)',
    labels: ['queue', 'pool', 'state'],
    component: 'control-plane',
    leaderOnly: true,
  },
  queueOldestWaiting: {
    name: 'agentfleet_queue_oldest_waiting_seconds',
    type: 'gauge',
    help: 'Age of the oldest entry waiting in a pool queue (0 when none waits)',
    labels: ['queue', 'pool'],
    component: 'control-plane',
    leaderOnly: true,
  },
  queuePaused: {
    name: 'agentfleet_queue_paused',
    type: 'gauge',
    help: '1 when an operator paused the pool queue',
    labels: ['queue', 'pool'],
    component: 'control-plane',
    leaderOnly: true,
  },

  // ── fleet (control plane) ─────────────────────────────────────────────────────────────────────
  workers: {
    name: 'agentfleet_workers',
    type: 'gauge',
    help: 'Registered workers by status (online, lost, offline) and scheduling (active, draining, cordoned)',
    labels: ['status', 'scheduling'],
    component: 'control-plane',
    leaderOnly: true,
  },
  poolWorkersOnline: {
    name: 'agentfleet_pool_workers_online',
    type: 'gauge',
    help: 'Online workers taking new jobs (not draining or cordoned) that serve a pool',
    labels: ['pool'],
    component: 'control-plane',
    leaderOnly: true,
  },
  poolSlots: {
    name: 'agentfleet_pool_slots',
    type: 'gauge',
    help: 'Job slots of the online workers serving a pool, as their last heartbeats tell: busy or free',
    labels: ['pool', 'state'],
    component: 'control-plane',
    leaderOnly: true,
  },
  targetSlots: {
    name: 'agentfleet_target_slots',
    type: 'gauge',
    help: 'Slots of the active execution targets (capacity.max_concurrent): in_use = leases held now by running containers across the fleet, max = the limit',
    labels: ['pool', 'target', 'state'],
    component: 'control-plane',
    leaderOnly: true,
  },
  heartbeatLag: {
    name: 'agentfleet_worker_heartbeat_lag_seconds',
    type: 'gauge',
    help: "Age of the oldest last heartbeat among workers PostgreSQL has online (the reaper's workers:alive scores, Redis clock); healthy is under one interval, over the grace period means the reaper is behind",
    labels: [],
    component: 'control-plane',
    leaderOnly: true,
  },
  heartbeatInterval: {
    name: 'agentfleet_worker_heartbeat_interval_seconds',
    type: 'gauge',
    help: 'Heartbeat interval told to workers at registration (configuration)',
    labels: [],
    component: 'control-plane',
  },
  workerGracePeriod: {
    name: 'agentfleet_worker_grace_period_seconds',
    type: 'gauge',
    help: 'Silence after which a worker is declared lost (configuration)',
    labels: [],
    component: 'control-plane',
  },
  workersLost: {
    name: 'agentfleet_workers_lost_total',
    type: 'counter',
    help: 'Workers declared lost by the reaper (no heartbeat within the grace period)',
    labels: [],
    component: 'control-plane',
  },
  workersRecovered: {
    name: 'agentfleet_workers_recovered_total',
    type: 'counter',
    help: 'Lost workers whose heartbeat came back',
    labels: [],
    component: 'control-plane',
  },
  reaperCycleDuration: {
    name: 'agentfleet_reaper_cycle_duration_seconds',
    type: 'histogram',
    help: 'Duration of one reaper cycle on the leader (reap lost workers, hand their jobs back)',
    labels: [],
    component: 'control-plane',
    buckets: ROUND_TRIP_BUCKETS,
  },
  leader: {
    name: 'agentfleet_leader',
    type: 'gauge',
    help: '1 on the replica holding the reaper leader lock (which also collects the fleet and queue gauges)',
    labels: [],
    component: 'control-plane',
  },

  // ── worker ────────────────────────────────────────────────────────────────────────────────────
  workerSlots: {
    name: 'agentfleet_worker_slots',
    type: 'gauge',
    help: 'Job slots of this worker: busy (a job runs) or free (0 while paused, draining or cordoned)',
    labels: ['state'],
    component: 'worker',
  },
  workerHeartbeats: {
    name: 'agentfleet_worker_heartbeats_total',
    type: 'counter',
    help: 'Heartbeats sent by this worker: ok, or error (Redis unreachable)',
    labels: ['result'],
    component: 'worker',
  },
  workerHeartbeatDuration: {
    name: 'agentfleet_worker_heartbeat_duration_seconds',
    type: 'histogram',
    help: 'Round trip of one heartbeat (one Lua call in Redis)',
    labels: [],
    component: 'worker',
    buckets: ROUND_TRIP_BUCKETS,
  },
  jobAttempts: {
    name: 'agentfleet_job_attempts_total',
    type: 'counter',
    help: 'Attempts this worker ran, by how they ended (completed, failed, oom, timed_out, cancelled, failed_circuit_open, handed_back)',
    labels: ['pool', 'target', 'status'],
    component: 'worker',
  },
  jobDeferrals: {
    name: 'agentfleet_job_deferrals_total',
    type: 'counter',
    help: 'Attempts this worker gave back to their queue unstarted because every target they may use was full (capacity.max_concurrent)',
    labels: ['pool'],
    component: 'worker',
  },
  jobDuration: {
    name: 'agentfleet_job_duration_seconds',
    type: 'histogram',
    help: 'Container run time of an attempt, from start to exit',
    labels: ['pool', 'target', 'status'],
    component: 'worker',
    buckets: DURATION_BUCKETS,
  },
  jobEnqueueToStart: {
    name: 'agentfleet_job_enqueue_to_start_seconds',
    type: 'histogram',
    help: 'From the job entering its queue to its container running (includes queueing and container start)',
    labels: ['pool'],
    component: 'worker',
    buckets: WAIT_BUCKETS,
  },
  containerStart: {
    name: 'agentfleet_container_start_duration_seconds',
    type: 'histogram',
    help: 'From asking the runtime for a container to it running (create + start; pod scheduling on Kubernetes)',
    labels: ['runtime', 'target'],
    component: 'worker',
    buckets: START_BUCKETS,
  },
  breakerState: {
    name: 'agentfleet_breaker_state',
    type: 'gauge',
    help: "This worker's circuit breaker of a target: 1 for its current state (closed, half_open, open), 0 for the others",
    labels: ['target', 'state'],
    component: 'worker',
  },
  breakerTransitions: {
    name: 'agentfleet_breaker_transitions_total',
    type: 'counter',
    help: 'Circuit breaker state changes of a target on this worker, by the state entered',
    labels: ['target', 'state'],
    component: 'worker',
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** Names a histogram exposes besides its own (what PromQL may use). */
export function exposedNames(d: MetricDefinition): string[] {
  return d.type === 'histogram' ? [`${d.name}_bucket`, `${d.name}_sum`, `${d.name}_count`] : [d.name];
}

/** Every metric name a process exports (prom-client default metrics not included), for checks. */
export function exportedMetricNames(component: Component): string[] {
  return Object.values(METRICS as Record<string, MetricDefinition>)
    .filter((d) => d.component === component || d.component === 'both')
    .flatMap(exposedNames);
}
