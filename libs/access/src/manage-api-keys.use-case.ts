import { BUILTIN_ROLES, type CreateApiKeyInput, type Scope } from '@agentfleet/contracts';
import {
  type Actor,
  type CredentialHasher,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  type Principal,
  type UnitOfWork,
  actorOf,
} from '@agentfleet/domain';
import type { AccessRepositories, Page } from './access.ports';
import { apiKeyView } from './api-key.view';

/** Create, list and revoke the API keys of the caller's organization. */
export class ManageApiKeysUseCase {
  constructor(
    private readonly uow: UnitOfWork<AccessRepositories>,
    private readonly hasher: CredentialHasher,
  ) {}

  async create(principal: Principal, input: CreateApiKeyInput, ip: string | null) {
    const rolePermissions = BUILTIN_ROLES[input.role].permissions;
    const scopes: Scope[] = input.scopes ? [...new Set(input.scopes)] : [...rolePermissions];
    const outsideRole = scopes.filter((s) => !rolePermissions.includes(s));
    if (outsideRole.length) {
      throw new InvalidInputError(
        `scopes ${outsideRole.join(', ')} are not granted by role ${input.role}`,
        'scopes',
      );
    }
    // no privilege escalation: a key can only hand out what it holds itself
    const beyondCaller = scopes.filter((s) => !principal.scopes.includes(s));
    if (beyondCaller.length) {
      throw new ForbiddenError(
        `the calling key lacks scopes ${beyondCaller.join(', ')} and cannot grant them`,
        'scopes',
      );
    }
    const issued = this.hasher.issue('afk');
    const record = await this.uow.run(async (repos) => {
      if (input.user_id) {
        const user = await repos.users.findById(principal.organizationId, input.user_id);
        if (!user)
          throw new InvalidInputError(`user ${input.user_id} does not exist in this organization`, 'user_id');
        // a key acting for a user never holds a role the user lacks
        if (!user.roles.includes(input.role)) {
          throw new InvalidInputError(`user ${input.user_id} does not have role ${input.role}`, 'role');
        }
      }
      const key = await repos.apiKeys.create({
        organizationId: principal.organizationId,
        userId: input.user_id ?? null,
        name: input.name,
        prefix: issued.prefix,
        keyHash: issued.hash,
        role: input.role,
        scopes,
        instanceAdmin: false,
        rateLimitPerHour: input.rate_limit_per_hour,
        expiresAt: input.expires_at ? new Date(input.expires_at) : null,
        createdByKeyId: principal.apiKeyId,
      });
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'api_key.created',
        resourceType: 'api_key',
        resourceId: key.id,
        details: { name: key.name, role: key.role, scopes: key.scopes },
      });
      return key;
    });
    return { ...apiKeyView(record), key: issued.plaintext };
  }

  async list(principal: Principal, page: Page) {
    return this.uow.run(async (repos) => {
      const res = await repos.apiKeys.list(principal.organizationId, page);
      return { items: res.items.map(apiKeyView), total: res.total };
    });
  }

  async get(principal: Principal, id: string) {
    const key = await this.uow.run((repos) => repos.apiKeys.findById(principal.organizationId, id));
    if (!key) throw new NotFoundError('API key', id);
    return apiKeyView(key);
  }

  async revoke(principal: Principal, id: string, ip: string | null, now: Date) {
    const actor: Actor = actorOf(principal, ip);
    return this.uow.run(async (repos) => {
      const target = await repos.apiKeys.findById(principal.organizationId, id);
      if (!target) throw new NotFoundError('API key', id);
      if (target.instanceAdmin && !principal.instanceAdmin) {
        throw new ForbiddenError('only an instance-admin key may revoke an instance-admin key');
      }
      const revoked = await repos.apiKeys.revoke(principal.organizationId, id, now);
      if (!revoked) return apiKeyView(target); // already revoked: idempotent
      await repos.audit.record({ actor, action: 'api_key.revoked', resourceType: 'api_key', resourceId: id });
      return apiKeyView(revoked);
    });
  }
}
