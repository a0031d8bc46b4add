import { InitialSchema1795523014474 } from './1795523014474-initial-schema';
import { UpdatedAtTriggers1795523014475 } from './1795523014475-updated-at-triggers';
import { ExecutionJobs1795525590708 } from './1795525590708-execution-jobs';
import { ExecutionUpdatedAtTriggers1795525590709 } from './1795525590709-execution-updated-at-triggers';
import { OrganizationSecrets1795538356111 } from './1795538356111-organization-secrets';
import { SecretsUpdatedAtTrigger1795538356112 } from './1795538356112-secrets-updated-at-trigger';

/** Every migration, in order. A new one is appended here after `npm run migration:generate`. */
export const MIGRATIONS = [
  InitialSchema1795523014474,
  UpdatedAtTriggers1795523014475,
  ExecutionJobs1795525590708,
  ExecutionUpdatedAtTriggers1795525590709,
  OrganizationSecrets1795538356111,
  SecretsUpdatedAtTrigger1795538356112,
];
