import { ApiKeyEntity } from './api-key.entity';
import { AuditLogEntity } from './audit-log.entity';
import { OrganizationEntity } from './organization.entity';
import { RoleDefinitionEntity } from './role-definition.entity';
import { UserEntity } from './user.entity';
import { WorkerTokenEntity } from './worker-token.entity';
import { WorkerEntity } from './worker.entity';
import { ExecutionTargetEntity } from './execution-target.entity';
import { ExecutionEngineEntity } from './execution-engine.entity';
import { SupervisorRunEntity } from './supervisor-run.entity';
import { ExecutionJobEntity } from './execution-job.entity';
import { ExecutionJobEventEntity } from './execution-job-event.entity';
import { SecretEntity } from './secret.entity';

export {
  ApiKeyEntity,
  AuditLogEntity,
  OrganizationEntity,
  RoleDefinitionEntity,
  UserEntity,
  WorkerTokenEntity,
  WorkerEntity,
  ExecutionTargetEntity,
  ExecutionEngineEntity,
  SupervisorRunEntity,
  ExecutionJobEntity,
  ExecutionJobEventEntity,
  SecretEntity,
};
export const ENTITIES = [
  OrganizationEntity,
  UserEntity,
  ApiKeyEntity,
  RoleDefinitionEntity,
  AuditLogEntity,
  WorkerTokenEntity,
  WorkerEntity,
  ExecutionTargetEntity,
  ExecutionEngineEntity,
  SupervisorRunEntity,
  ExecutionJobEntity,
  ExecutionJobEventEntity,
  SecretEntity,
];
