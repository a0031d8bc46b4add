import type {
  BreakerOptions,
  ExecutionJobStatus,
  ExecutionRunPayload,
  JobEnvValue,
  JobEvent,
  TargetType,
} from '@agentfleet/contracts';
import type { AuditLogWriter } from '@agentfleet/domain';

export interface ExecutionJobRecord {
  id: string;
  organizationId: string;
  supervisorRunId: string | null;
  targetId: string | null;
  engineId: string | null;
  pool: string;
  image: string;
  command: string[];
  prompt: string | null;
  /** Plain values and secret references (`{ secret }`); a referenced value is never stored here. */
  env: Record<string, JobEnvValue>;
  status: ExecutionJobStatus;
  attempt: number;
  progress: number;
  result: unknown;
  containerId: string | null;
  targetHost: string | null;
  workerId: string | null;
  retryCount: number;
  maxRetries: number;
  retryBackoffMs: number;
  oomRetryEnabled: boolean;
  oomRetryMaxMemoryMb: number | null;
  oomRetried: boolean;
  memoryLimitMb: number;
  cpu: number;
  pidsLimit: number;
  timeoutSeconds: number;
  network: boolean;
  priority: number;
  idempotencyKey: string | null;
  exitCode: number | null;
  oomEvidence: Record<string, unknown> | null;
  peakMemoryMb: number | null;
  error: string | null;
  lastFailureReason: string | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: string;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  queuedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  timeoutAt: Date | null;
  cancelRequestedAt: Date | null;
}

export type NewExecutionJob = Pick<
  ExecutionJobRecord,
  | 'organizationId'
  | 'supervisorRunId'
  | 'targetId'
  | 'engineId'
  | 'pool'
  | 'image'
  | 'command'
  | 'prompt'
  | 'env'
  | 'maxRetries'
  | 'retryBackoffMs'
  | 'oomRetryEnabled'
  | 'oomRetryMaxMemoryMb'
  | 'memoryLimitMb'
  | 'cpu'
  | 'pidsLimit'
  | 'timeoutSeconds'
  | 'network'
  | 'priority'
  | 'idempotencyKey'
  | 'metadata'
> & { executionTarget: Record<string, unknown> };

export interface TargetRecord {
  id: string;
  organizationId: string;
  name: string;
  type: TargetType;
  connectionConfig: Record<string, unknown>;
  capacity: { max_memory_mb: number; max_cpu: number; max_concurrent: number };
  workerPool: string;
  allowedImages: string[];
  defaultImage: string;
  breakerOptions: BreakerOptions;
  isActive: boolean;
  createdAt: Date;
  /** When the row last changed: the revision of its breaker options in job payloads. */
  updatedAt: Date;
}

export interface EngineRecord {
  id: string;
  organizationId: string;
  name: string;
  type: string;
  provider: 'openai' | 'anthropic';
  handlerConfig: {
    base_url?: string;
    model: string;
    max_tokens: number;
    system_prompt?: string;
    timeout_ms: number;
    /** Sealed by the SecretBox; never returned by the API. */
    api_key_sealed?: string;
  };
  description: string | null;
  isDefault: boolean;
  isActive: boolean;
  createdAt: Date;
}

/** Port: execution engines (LLM settings) of an organization. */
export interface EngineRepository {
  create(e: Omit<EngineRecord, 'id' | 'createdAt' | 'isActive'>): Promise<EngineRecord>;
  findById(organizationId: string, id: string): Promise<EngineRecord | undefined>;
  findDefault(organizationId: string): Promise<EngineRecord | undefined>;
  list(
    organizationId: string,
    page: { limit: number; offset: number },
  ): Promise<{ items: EngineRecord[]; total: number }>;
  /** Clears `is_default` on the organization's other engines. */
  clearDefault(organizationId: string, exceptId: string): Promise<void>;
  deactivate(organizationId: string, id: string): Promise<EngineRecord | undefined>;
}

export interface SecretRecord {
  id: string;
  organizationId: string;
  name: string;
  /** Sealed by the SecretBox (`v1:<key id>:…`); never returned by the API. */
  valueSealed: string;
  description: string | null;
  createdByApiKeyId: string | null;
  createdByUserId: string | null;
  updatedByApiKeyId: string | null;
  updatedByUserId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Who wrote a secret (kept with it for the metadata views). */
export interface SecretAuthor {
  apiKeyId: string | null;
  userId: string | null;
}

/** Port: the organization secrets that job env values reference by name (unique per organization). */
export interface SecretRepository {
  /** Creates the secret or replaces its value (and its description when one is given); `created` says which. */
  put(
    organizationId: string,
    name: string,
    s: { valueSealed: string; description?: string; by: SecretAuthor },
  ): Promise<{ secret: SecretRecord; created: boolean }>;
  findByName(organizationId: string, name: string): Promise<SecretRecord | undefined>;
  /** The organization's secrets of these names (those that exist), sealed values included. */
  findByNames(organizationId: string, names: readonly string[]): Promise<SecretRecord[]>;
  /** Which of these names the organization has, without reading any value. */
  existingNames(organizationId: string, names: readonly string[]): Promise<string[]>;
  list(
    organizationId: string,
    page: { limit: number; offset: number },
  ): Promise<{ items: SecretRecord[]; total: number }>;
  /** Deletes it for good (the sealed value with it); returns the row, or undefined when there was none. */
  delete(organizationId: string, name: string): Promise<SecretRecord | undefined>;
}

export interface JobFilter {
  status?: ExecutionJobStatus;
  pool?: string;
  workerId?: string;
  targetId?: string;
  createdAfter?: Date;
  createdBefore?: Date;
}

/** Fields a transition may set along with the status. */
export type JobPatch = Partial<
  Pick<
    ExecutionJobRecord,
    | 'workerId'
    | 'containerId'
    | 'targetHost'
    | 'targetId'
    | 'startedAt'
    | 'completedAt'
    | 'timeoutAt'
    | 'exitCode'
    | 'oomEvidence'
    | 'peakMemoryMb'
    | 'error'
    | 'lastFailureReason'
    | 'result'
    | 'progress'
    | 'memoryLimitMb'
    | 'retryCount'
    | 'oomRetried'
    | 'cancelRequestedAt'
  >
>;

/** One conditional status change of `transitionMany`. */
export interface JobTransitionChange {
  id: string;
  attempt: number;
  from: readonly ExecutionJobStatus[];
  to: ExecutionJobStatus;
  patch: JobPatch;
}

/** One change of `updateMany`: live fields of the current attempt, never the status. */
export interface JobLiveFieldsChange {
  id: string;
  attempt: number;
  progress?: number;
  addPromptTokens?: number;
  addCompletionTokens?: number;
  addCostUsd?: number;
}

/** Port: execution jobs. Every status change is conditional on (status, attempt). */
export interface ExecutionJobRepository {
  /** Inserts; with an idempotency key that exists, returns the existing job and `created: false`. */
  create(job: NewExecutionJob): Promise<{ job: ExecutionJobRecord; created: boolean }>;
  /** Many `create`s in one statement (group commit of submissions); results in the order of `jobs`. */
  createMany(jobs: readonly NewExecutionJob[]): Promise<{ job: ExecutionJobRecord; created: boolean }[]>;
  findById(organizationId: string, id: string): Promise<ExecutionJobRecord | undefined>;
  /** Across organizations: for the event consumer, which only knows the job id. */
  findByIdUnscoped(id: string): Promise<ExecutionJobRecord | undefined>;
  findManyUnscoped(ids: readonly string[]): Promise<ExecutionJobRecord[]>;
  list(
    organizationId: string | null,
    filter: JobFilter,
    page: { limit: number; offset: number },
  ): Promise<{ items: ExecutionJobRecord[]; total: number }>;
  /** Moves the job from one of `from` to `to` if its attempt is still `attempt`; undefined when that no longer holds. */
  transition(
    id: string,
    attempt: number,
    from: readonly ExecutionJobStatus[],
    to: ExecutionJobStatus,
    patch: JobPatch,
  ): Promise<ExecutionJobRecord | undefined>;
  /** Back to `queued` with attempt + 1 (retry, lost worker, stalled lock); conditional like `transition`. */
  requeue(
    id: string,
    attempt: number,
    from: readonly ExecutionJobStatus[],
    patch: JobPatch,
  ): Promise<ExecutionJobRecord | undefined>;
  /**
   * Many `transition`s at once (the event consumer's batch), each as conditional as one alone; at most
   * one change per job. Returns the jobs that moved; a change whose (status, attempt) no longer holds is left out.
   */
  transitionMany(changes: readonly JobTransitionChange[]): Promise<ExecutionJobRecord[]>;
  /** Updates fields that are not the status (progress, usage), only for the current attempt of a live job. */
  update(
    id: string,
    attempt: number,
    patch: JobPatch & { addPromptTokens?: number; addCompletionTokens?: number; addCostUsd?: number },
  ): Promise<boolean>;
  /** Many `update`s of progress and usage at once, each as conditional as one alone; at most one change per job. */
  updateMany(changes: readonly JobLiveFieldsChange[]): Promise<void>;
  /** Jobs running (or awaiting approval) on these workers. */
  activeOnWorkers(workerIds: readonly string[]): Promise<ExecutionJobRecord[]>;
  /** Jobs still running on workers that are lost or offline (the reaper's sweep; any organization). */
  activeOnDeadWorkers(limit: number): Promise<ExecutionJobRecord[]>;
  /**
   * Jobs (any organization) whose current attempt has been `queued` since before `before`, in
   * (queued_at, id) order after `after`: the dispatcher sweep pages through them with that cursor.
   */
  queuedBefore(
    before: Date,
    after: { queuedAt: Date; id: string } | null,
    limit: number,
  ): Promise<ExecutionJobRecord[]>;
  markCancelRequested(organizationId: string, id: string, at: Date): Promise<ExecutionJobRecord | undefined>;
}

/** Port: execution targets of an organization. */
export interface TargetRepository {
  create(t: Omit<TargetRecord, 'id' | 'createdAt' | 'updatedAt' | 'isActive'>): Promise<TargetRecord>;
  findById(organizationId: string, id: string): Promise<TargetRecord | undefined>;
  /** Any organization: a worker resolving the target named in a payload. */
  findByIdUnscoped(id: string): Promise<TargetRecord | undefined>;
  list(
    organizationId: string,
    page: { limit: number; offset: number },
  ): Promise<{ items: TargetRecord[]; total: number }>;
  activeForPool(organizationId: string, pool: string): Promise<TargetRecord[]>;
  /** Every pool that has an active target (any organization): the queues the control plane watches. */
  activePools(): Promise<string[]>;
  deactivate(organizationId: string, id: string): Promise<TargetRecord | undefined>;
  /** The target, locked until the transaction ends: concurrent changes of one target apply one after the other. */
  findByIdForUpdate(organizationId: string, id: string): Promise<TargetRecord | undefined>;
  update(organizationId: string, id: string, change: TargetChange): Promise<TargetRecord | undefined>;
}

/** What an operator may change on an execution target (whole values; merging is the use case's). */
export type TargetChange = Partial<
  Pick<TargetRecord, 'capacity' | 'allowedImages' | 'defaultImage' | 'breakerOptions' | 'isActive'>
>;

export interface StoredJobEvent {
  streamId: string;
  jobId: string;
  organizationId: string;
  attempt: number;
  type: JobEvent['type'];
  data: JobEvent;
}

/** Port: the persisted history of job events (idempotent by stream id). */
export interface JobEventRepository {
  insertMany(events: readonly StoredJobEvent[]): Promise<void>;
  /** Events after `afterStreamId` (exclusive), oldest first. */
  list(
    organizationId: string,
    jobId: string,
    afterStreamId: string | null,
    limit: number,
    types?: readonly string[],
  ): Promise<StoredJobEvent[]>;
}

export interface ExecutionRepositories {
  jobs: ExecutionJobRepository;
  targets: TargetRepository;
  engines: EngineRepository;
  secrets: SecretRepository;
  events: JobEventRepository;
  audit: AuditLogWriter;
}

/** Port: the execution queues (one per pool). */
/** One attempt to put on its pool's queue. */
export interface QueuedAttempt {
  payload: ExecutionRunPayload;
  priority: number;
  delayMs?: number;
}

export interface JobQueue {
  enqueue(payload: ExecutionRunPayload, opts: { priority: number; delayMs?: number }): Promise<void>;
  /**
   * Several attempts in one round trip per pool (a submit batch): all or none of a pool's attempts are
   * added; an attempt the queue already holds stays as it is.
   */
  enqueueMany(attempts: readonly QueuedAttempt[]): Promise<void>;
  /** Removes a waiting/delayed attempt; false when a worker already took it. */
  removeQueued(pool: string, jobId: string, attempt: number): Promise<boolean>;
  /** Whether the queue holds this attempt in any state (waiting, delayed, active, completed, failed). */
  has(pool: string, jobId: string, attempt: number): Promise<boolean>;
}

/** Port: whether an attempt ever ran somewhere — a worker wrote events of it to the job's stream. */
export interface AttemptEvidence {
  ran(jobId: string, attempt: number): Promise<boolean>;
}

/** Port: signals to the worker running a job (cancel within seconds). */
export interface JobSignals {
  cancel(jobId: string, workerId: string | null): Promise<void>;
}

/** Port (worker side): appends events of one attempt to the job's stream and the persisted firehose. */
export interface JobEventSink {
  append(events: readonly JobEvent[]): Promise<void>;
}
