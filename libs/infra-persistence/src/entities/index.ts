import { ApiKeyEntity } from './api-key.entity';
import { AuditLogEntity } from './audit-log.entity';
import { OrganizationEntity } from './organization.entity';
import { RoleDefinitionEntity } from './role-definition.entity';
import { UserEntity } from './user.entity';
import { WorkerTokenEntity } from './worker-token.entity';
import { WorkerEntity } from './worker.entity';

export {
  ApiKeyEntity,
  AuditLogEntity,
  OrganizationEntity,
  RoleDefinitionEntity,
  UserEntity,
  WorkerTokenEntity,
  WorkerEntity,
};
export const ENTITIES = [
  OrganizationEntity,
  UserEntity,
  ApiKeyEntity,
  RoleDefinitionEntity,
  AuditLogEntity,
  WorkerTokenEntity,
  WorkerEntity,
];
