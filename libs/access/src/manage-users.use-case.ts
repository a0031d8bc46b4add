import type { CreateUserInput, UpdateUserInput } from '@agentfleet/contracts';
import { ConflictError, NotFoundError, type Principal, type UnitOfWork, actorOf } from '@agentfleet/domain';
import type { AccessRepositories, Page, UserRecord } from './access.ports';

export function userView(u: UserRecord) {
  return {
    id: u.id,
    organization_id: u.organizationId,
    external_id: u.externalId,
    email: u.email,
    name: u.name,
    roles: u.roles,
    is_active: u.isActive,
    last_login_at: u.lastLoginAt?.toISOString() ?? null,
    created_at: u.createdAt.toISOString(),
    updated_at: u.updatedAt.toISOString(),
  };
}

/** The users of the caller's organization and their roles. */
export class ManageUsersUseCase {
  constructor(private readonly uow: UnitOfWork<AccessRepositories>) {}

  async create(principal: Principal, input: CreateUserInput, ip: string | null) {
    return this.uow.run(async (repos) => {
      const email = input.email.toLowerCase();
      if (await repos.users.findByEmail(principal.organizationId, email)) {
        throw new ConflictError(`a user with email ${email} already exists`, 'email');
      }
      const user = await repos.users.create({
        organizationId: principal.organizationId,
        email,
        name: input.name ?? null,
        roles: [...new Set(input.roles)],
        externalId: input.external_id ?? null,
      });
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'user.created',
        resourceType: 'user',
        resourceId: user.id,
        details: { email, roles: user.roles },
      });
      return userView(user);
    });
  }

  async list(principal: Principal, page: Page) {
    return this.uow.run(async (repos) => {
      const res = await repos.users.list(principal.organizationId, page);
      return { items: res.items.map(userView), total: res.total };
    });
  }

  async get(principal: Principal, id: string) {
    const user = await this.uow.run((repos) => repos.users.findById(principal.organizationId, id));
    if (!user) throw new NotFoundError('user', id);
    return userView(user);
  }

  async update(principal: Principal, id: string, input: UpdateUserInput, ip: string | null) {
    return this.uow.run(async (repos) => {
      const patch: Partial<Pick<UserRecord, 'name' | 'roles' | 'isActive'>> = {};
      if (input.name !== undefined) patch.name = input.name;
      if (input.roles !== undefined) patch.roles = [...new Set(input.roles)];
      if (input.is_active !== undefined) patch.isActive = input.is_active;
      const user = await repos.users.update(principal.organizationId, id, patch);
      if (!user) throw new NotFoundError('user', id);
      await repos.audit.record({
        actor: actorOf(principal, ip),
        action: 'user.updated',
        resourceType: 'user',
        resourceId: id,
        details: { ...input },
      });
      return userView(user);
    });
  }
}
