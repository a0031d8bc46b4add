import { BUILTIN_ROLES, type CreateOrganizationInput } from '@agentfleet/contracts';
import {
  ConflictError,
  type CredentialHasher,
  ForbiddenError,
  NotFoundError,
  type Principal,
  type UnitOfWork,
  actorOf,
} from '@agentfleet/domain';
import type { AccessRepositories, OrganizationRecord, Page } from './access.ports';
import { apiKeyView } from './api-key.view';

export function organizationView(o: OrganizationRecord) {
  return {
    id: o.id,
    name: o.name,
    display_name: o.displayName,
    settings: o.settings,
    is_active: o.isActive,
    created_at: o.createdAt.toISOString(),
    updated_at: o.updatedAt.toISOString(),
  };
}

/** Organizations: each key sees its own; an instance-admin key creates and lists them all. */
export class ManageOrganizationsUseCase {
  constructor(
    private readonly uow: UnitOfWork<AccessRepositories>,
    private readonly hasher: CredentialHasher,
  ) {}

  async getOwn(principal: Principal) {
    const org = await this.uow.run((repos) => repos.organizations.findById(principal.organizationId));
    if (!org) throw new NotFoundError('organization', principal.organizationId);
    return organizationView(org);
  }

  async list(principal: Principal, page: Page) {
    this.requireInstanceAdmin(principal);
    return this.uow.run(async (repos) => {
      const res = await repos.organizations.list(page);
      return { items: res.items.map(organizationView), total: res.total };
    });
  }

  /** Creates the organization and its first admin key in one transaction; the key is shown once. */
  async create(principal: Principal, input: CreateOrganizationInput, ip: string | null) {
    this.requireInstanceAdmin(principal);
    const issued = this.hasher.issue('afk');
    return this.uow.run(async (repos) => {
      if (await repos.organizations.findByName(input.name)) {
        throw new ConflictError(`organization ${input.name} already exists`, 'name');
      }
      const org = await repos.organizations.create({
        name: input.name,
        displayName: input.display_name ?? null,
        settings: input.settings,
      });
      const key = await repos.apiKeys.create({
        organizationId: org.id,
        userId: null,
        name: input.admin_key_name,
        prefix: issued.prefix,
        keyHash: issued.hash,
        role: 'admin',
        scopes: [...BUILTIN_ROLES.admin.permissions],
        instanceAdmin: false,
        rateLimitPerHour: 0,
        expiresAt: null,
        createdByKeyId: principal.apiKeyId,
      });
      const actor = actorOf(principal, ip);
      await repos.audit.record({
        actor,
        action: 'organization.created',
        resourceType: 'organization',
        resourceId: org.id,
        details: { name: org.name },
      });
      // the new organization's own log shows where its first key came from
      await repos.audit.record({
        actor: { ...actor, organizationId: org.id },
        action: 'api_key.created',
        resourceType: 'api_key',
        resourceId: key.id,
        details: { name: key.name, role: key.role, by_instance_admin_of: principal.organizationId },
      });
      return {
        organization: organizationView(org),
        admin_key: { ...apiKeyView(key), key: issued.plaintext },
      };
    });
  }

  private requireInstanceAdmin(principal: Principal) {
    if (!principal.instanceAdmin)
      throw new ForbiddenError('only an instance-admin key may manage organizations');
  }
}
