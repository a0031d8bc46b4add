import type { Capability, WorkerControlMessage, WorkerScheduling, WorkerStatus } from '@agentfleet/contracts';
import type { AuditLogWriter } from '@agentfleet/domain';

export interface WorkerTokenRecord {
  id: string;
  organizationId: string;
  name: string;
  prefix: string;
  tokenHash: string;
  labels: Record<string, string>;
  capabilities: Capability[];
  maxConcurrentTasks: number;
  pools: string[];
  createdBy: string | null;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  workerId: string | null;
  createdAt: Date;
}

/** What may change on a worker token after it was created (provisioning from configuration). */
export type WorkerTokenSettings = Pick<
  WorkerTokenRecord,
  'name' | 'labels' | 'capabilities' | 'maxConcurrentTasks' | 'pools'
>;

export interface WorkerRecord {
  id: string;
  organizationId: string;
  tokenId: string;
  instanceId: string;
  hostname: string;
  version: string;
  protocolVersion: number;
  labels: Record<string, string>;
  capabilities: Capability[];
  pools: string[];
  capacity: Record<string, unknown>;
  concurrency: number;
  status: WorkerStatus;
  scheduling: WorkerScheduling;
  registeredAt: Date;
  lastSeenAt: Date | null;
  lostAt: Date | null;
  offlineAt: Date | null;
}

export interface Page {
  limit: number;
  offset: number;
}

/** Port: worker tokens. `findByPrefix` is the one cross-organization lookup (authentication). */
export interface WorkerTokenRepository {
  create(
    t: Omit<WorkerTokenRecord, 'id' | 'createdAt' | 'lastUsedAt' | 'revokedAt' | 'workerId'>,
  ): Promise<WorkerTokenRecord>;
  findByPrefix(prefix: string): Promise<WorkerTokenRecord | undefined>;
  findById(organizationId: string, id: string): Promise<WorkerTokenRecord | undefined>;
  list(organizationId: string, page: Page): Promise<{ items: WorkerTokenRecord[]; total: number }>;
  /** Conditional: revokes only a token not yet revoked; returns it, or undefined. */
  revoke(organizationId: string, id: string, at: Date): Promise<WorkerTokenRecord | undefined>;
  recordUse(id: string, workerId: string, at: Date): Promise<void>;
  /** Tokens of one organization with this name that `createdBy` made, revoked ones too. */
  findByNameAndCreator(organizationId: string, name: string, createdBy: string): Promise<WorkerTokenRecord[]>;
  /** Conditional: changes the settings of a token not revoked; returns it, or undefined. */
  updateSettings(
    organizationId: string,
    id: string,
    settings: WorkerTokenSettings,
  ): Promise<WorkerTokenRecord | undefined>;
  /** Serialises provisioning from configuration across control-plane replicas (held until the transaction ends). */
  lockProvisioning(): Promise<void>;
  /** Revoked or expired tokens that still have workers not offline (any organization; reconciliation). */
  deadWithActiveWorkers(at: Date): Promise<WorkerTokenRecord[]>;
}

export type RegistrationFields = Omit<
  WorkerRecord,
  'id' | 'status' | 'scheduling' | 'lastSeenAt' | 'lostAt' | 'offlineAt'
>;

/** Which workers a list returns: every condition given must hold. */
export interface WorkerListFilter {
  status?: WorkerStatus;
  pool?: string;
  scheduling?: WorkerScheduling;
}

/** Port: workers. Every status change is conditional on the status it leaves from. */
export interface WorkerRepository {
  /** Insert, or bring the same (token, instance) back online keeping its id and scheduling. */
  upsertRegistration(w: RegistrationFields): Promise<WorkerRecord>;
  findById(organizationId: string, id: string): Promise<WorkerRecord | undefined>;
  list(
    organizationId: string,
    filter: WorkerListFilter,
    page: Page,
  ): Promise<{ items: WorkerRecord[]; total: number }>;
  /** Moves the given workers from one of `from` to `to`; returns the ones that moved. */
  transition(
    ids: readonly string[],
    from: readonly WorkerStatus[],
    to: WorkerStatus,
    at: Date,
  ): Promise<WorkerRecord[]>;
  setScheduling(
    organizationId: string,
    id: string,
    scheduling: WorkerScheduling,
  ): Promise<WorkerRecord | undefined>;
  /** Ids of all workers currently `lost` (any organization; the reaper's revival check). */
  lostIds(): Promise<string[]>;
  /** Workers of one token that are not offline. */
  activeByToken(tokenId: string): Promise<WorkerRecord[]>;
  /**
   * Online workers, registered before `registeredBefore`, whose settings are not their token's any
   * more (pools, capabilities, concurrency, or a token label they lack): they missed a `reload`.
   */
  withStaleSettings(registeredBefore: Date, limit: number): Promise<string[]>;
}

/** Port: organizations as the fleet needs them: configuration names one, rows carry its id. */
export interface FleetOrganizations {
  idByName(name: string): Promise<string | undefined>;
}

/** Repositories bound to one transaction. */
export interface FleetRepositories {
  workerTokens: WorkerTokenRepository;
  workers: WorkerRepository;
  organizations: FleetOrganizations;
  audit: AuditLogWriter;
}

/** The live state a worker writes into Redis with every heartbeat. */
export interface LiveWorkerState {
  status: string;
  version: string;
  running: string[];
  freeSlots: number;
  lastSeen: Date;
}

/** Port: the Redis side of liveness (ARCHITECTURE.md §4), as the control plane sees it. */
export interface FleetLiveness {
  /** What heartbeats check: revocation and expiry of a token, enforced at the worker's next beat. */
  publishTokenState(tokenId: string, state: { revoked: boolean; expiresAt: Date | null }): Promise<void>;
  sendControl(workerId: string, message: WorkerControlMessage): Promise<void>;
  readLive(workerIds: readonly string[]): Promise<Map<string, LiveWorkerState>>;
  /** Redis server time, so every comparison uses one clock. */
  now(): Promise<Date>;
  /** Workers whose last heartbeat is older than `cutoff`. */
  staleSince(cutoff: Date, limit: number): Promise<string[]>;
  /** Removes the workers from the alive set unless they beat again after `cutoff`. */
  forgetStale(ids: readonly string[], cutoff: Date): Promise<void>;
  /** Last heartbeat of each worker still in the alive set. */
  lastBeats(ids: readonly string[]): Promise<Map<string, Date>>;
  /** Scores a just-registered worker alive (Redis' clock), so one that dies before its first heartbeat is reaped. */
  markAlive(workerId: string): Promise<void>;
  /** Drops the worker's live state (deregistration, revocation). */
  forget(workerId: string): Promise<void>;
}

/** Port: a leader lock; exactly one holder at a time, lost if not renewed within its TTL. */
export interface LeaderLock {
  readonly holderId: string;
  acquireOrRenew(): Promise<boolean>;
  release(): Promise<void>;
}
