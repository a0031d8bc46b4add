import { Inject, Injectable, type Provider } from '@nestjs/common';
import {
  type AccessRepositories,
  type AuditLogReader,
  AuthenticateApiKeyUseCase,
  BootstrapInstanceUseCase,
  ManageApiKeysUseCase,
  ManageOrganizationsUseCase,
  ManageUsersUseCase,
  type RateLimiter,
  ReadAuditLogUseCase,
} from '@agentfleet/access';
import type { Clock, CredentialHasher, SecretBox, UnitOfWork } from '@agentfleet/domain';
import {
  AuthenticateWorkerTokenUseCase,
  DeregisterWorkerUseCase,
  type FleetLiveness,
  type FleetRepositories,
  type FleetSettings,
  ManageWorkerTokensUseCase,
  ProvisionWorkerTokenUseCase,
  ReapLostWorkersUseCase,
  RegisterWorkerUseCase,
  ScheduleWorkerUseCase,
  ViewFleetUseCase,
} from '@agentfleet/fleet';
import { accessRepositories, fleetRepositories } from '@agentfleet/infra-persistence';
import {
  type AttemptEvidence,
  DispatchQueuedJobsUseCase,
  type ExecutionRepositories,
  HandBackJobsUseCase,
  type JobQueue,
  type JobSignals,
  type TargetSlots,
  ManageEnginesUseCase,
  ManageJobsUseCase,
  ManageSecretsUseCase,
  ManageTargetsUseCase,
  PersistJobEventsUseCase,
  SubmitJobUseCase,
} from '@agentfleet/execution';
import type { DataSource } from 'typeorm';
import {
  ACCESS_UOW,
  AUDIT_READER,
  CLOCK,
  CREDENTIAL_HASHER,
  DATA_SOURCE,
  EXECUTION_UOW,
  FLEET_LIVENESS,
  FLEET_SETTINGS,
  FLEET_UOW,
  JOB_QUEUE,
  JOB_SIGNALS,
  TARGET_SLOTS,
  ATTEMPT_EVIDENCE,
  RATE_LIMITER,
  SECRET_BOX,
} from './tokens';

/** Every port, typed, in one place: the use-case factories below read from it. */
@Injectable()
export class Ports {
  constructor(
    @Inject(DATA_SOURCE) readonly dataSource: DataSource,
    @Inject(CREDENTIAL_HASHER) readonly hasher: CredentialHasher,
    @Inject(CLOCK) readonly clock: Clock,
    @Inject(ACCESS_UOW) readonly accessUow: UnitOfWork<AccessRepositories>,
    @Inject(FLEET_UOW) readonly fleetUow: UnitOfWork<FleetRepositories>,
    @Inject(AUDIT_READER) readonly auditReader: AuditLogReader,
    @Inject(RATE_LIMITER) readonly rateLimiter: RateLimiter,
    @Inject(FLEET_LIVENESS) readonly liveness: FleetLiveness,
    @Inject(FLEET_SETTINGS) readonly fleetSettings: FleetSettings,
    @Inject(EXECUTION_UOW) readonly executionUow: UnitOfWork<ExecutionRepositories>,
    @Inject(JOB_QUEUE) readonly queue: JobQueue,
    @Inject(JOB_SIGNALS) readonly signals: JobSignals,
    @Inject(TARGET_SLOTS) readonly slots: TargetSlots,
    @Inject(ATTEMPT_EVIDENCE) readonly attemptEvidence: AttemptEvidence,
    @Inject(SECRET_BOX) readonly secrets: SecretBox,
  ) {}
}

function useCase<T>(type: abstract new (...args: never[]) => T, make: (p: Ports) => T): Provider {
  return { provide: type, inject: [Ports], useFactory: make };
}

/** Use cases are framework-free classes; this is the one place that hands them their ports. */
export const USE_CASE_PROVIDERS: Provider[] = [
  Ports,
  // authentication reads outside a transaction: one query, no BEGIN/COMMIT round trips per request
  useCase(
    AuthenticateApiKeyUseCase,
    (p) =>
      new AuthenticateApiKeyUseCase(
        accessRepositories(p.dataSource.manager).apiKeys,
        p.hasher,
        p.rateLimiter,
        p.clock,
      ),
  ),
  useCase(
    AuthenticateWorkerTokenUseCase,
    (p) =>
      new AuthenticateWorkerTokenUseCase(
        fleetRepositories(p.dataSource.manager).workerTokens,
        p.hasher,
        p.clock,
      ),
  ),
  useCase(ManageApiKeysUseCase, (p) => new ManageApiKeysUseCase(p.accessUow, p.hasher)),
  useCase(ManageUsersUseCase, (p) => new ManageUsersUseCase(p.accessUow)),
  useCase(ManageOrganizationsUseCase, (p) => new ManageOrganizationsUseCase(p.accessUow, p.hasher)),
  useCase(BootstrapInstanceUseCase, (p) => new BootstrapInstanceUseCase(p.accessUow, p.hasher)),
  useCase(ReadAuditLogUseCase, (p) => new ReadAuditLogUseCase(p.auditReader)),
  useCase(
    ManageWorkerTokensUseCase,
    (p) => new ManageWorkerTokensUseCase(p.fleetUow, p.hasher, p.liveness, p.clock),
  ),
  useCase(
    ProvisionWorkerTokenUseCase,
    (p) => new ProvisionWorkerTokenUseCase(p.fleetUow, p.hasher, p.liveness, p.clock),
  ),
  useCase(
    RegisterWorkerUseCase,
    (p) => new RegisterWorkerUseCase(p.fleetUow, p.liveness, p.fleetSettings, p.clock),
  ),
  useCase(DeregisterWorkerUseCase, (p) => new DeregisterWorkerUseCase(p.fleetUow, p.liveness, p.clock)),
  useCase(ReapLostWorkersUseCase, (p) => new ReapLostWorkersUseCase(p.fleetUow, p.liveness, p.fleetSettings)),
  useCase(ViewFleetUseCase, (p) => new ViewFleetUseCase(p.fleetUow, p.liveness)),
  useCase(ScheduleWorkerUseCase, (p) => new ScheduleWorkerUseCase(p.fleetUow, p.liveness)),
  useCase(SubmitJobUseCase, (p) => new SubmitJobUseCase(p.executionUow, p.queue)),
  useCase(ManageJobsUseCase, (p) => new ManageJobsUseCase(p.executionUow, p.queue, p.signals, p.slots)),
  useCase(PersistJobEventsUseCase, (p) => new PersistJobEventsUseCase(p.executionUow, p.queue)),
  useCase(HandBackJobsUseCase, (p) => new HandBackJobsUseCase(p.executionUow, p.queue)),
  useCase(
    DispatchQueuedJobsUseCase,
    (p) => new DispatchQueuedJobsUseCase(p.executionUow, p.queue, p.attemptEvidence),
  ),
  useCase(ManageTargetsUseCase, (p) => new ManageTargetsUseCase(p.executionUow)),
  useCase(ManageEnginesUseCase, (p) => new ManageEnginesUseCase(p.executionUow, p.secrets)),
  useCase(ManageSecretsUseCase, (p) => new ManageSecretsUseCase(p.executionUow, p.secrets)),
];
