import { BUILTIN_ROLES } from '@agentfleet/contracts';
import type { CredentialHasher, UnitOfWork } from '@agentfleet/domain';
import type { AccessRepositories } from './access.ports';

export interface BootstrapResult {
  organizationId: string;
  organizationName: string;
  /** Plaintext of the new instance-admin key; shown once, never stored. */
  adminKey: string;
  adminKeyId: string;
}

/**
 * First start of an empty database: the built-in roles, a default organization and an instance-admin
 * key. Serialised by an advisory lock so two replicas starting together create one organization.
 */
export class BootstrapInstanceUseCase {
  constructor(
    private readonly uow: UnitOfWork<AccessRepositories>,
    private readonly hasher: CredentialHasher,
  ) {}

  /** Does nothing (returns undefined) when any organization exists. */
  async ifEmpty(organizationName = 'default'): Promise<BootstrapResult | undefined> {
    return this.uow.run(async (repos) => {
      await repos.lockBootstrap();
      await repos.syncBuiltinRoles();
      if ((await repos.organizations.count()) > 0) return undefined;
      return this.issue(repos, organizationName);
    });
  }

  /** On demand (`npm run cli -- bootstrap`): a new instance-admin key, creating the organization if needed. */
  async always(organizationName = 'default'): Promise<BootstrapResult> {
    return this.uow.run(async (repos) => {
      await repos.lockBootstrap();
      await repos.syncBuiltinRoles();
      return this.issue(repos, organizationName);
    });
  }

  private async issue(repos: AccessRepositories, organizationName: string): Promise<BootstrapResult> {
    const org =
      (await repos.organizations.findByName(organizationName)) ??
      (await repos.organizations.create({
        name: organizationName,
        displayName: 'Default organization',
        settings: {},
      }));
    const issued = this.hasher.issue('afk');
    const key = await repos.apiKeys.create({
      organizationId: org.id,
      userId: null,
      name: 'bootstrap instance admin',
      prefix: issued.prefix,
      keyHash: issued.hash,
      role: 'admin',
      scopes: [...BUILTIN_ROLES.admin.permissions],
      instanceAdmin: true,
      rateLimitPerHour: 0,
      expiresAt: null,
      createdByKeyId: null,
    });
    await repos.audit.record({
      actor: { organizationId: org.id },
      action: 'instance.bootstrapped',
      resourceType: 'api_key',
      resourceId: key.id,
      details: { organization: org.name },
    });
    return {
      organizationId: org.id,
      organizationName: org.name,
      adminKey: issued.plaintext,
      adminKeyId: key.id,
    };
  }
}
