import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Scope } from '@agentfleet/contracts';
import type { Principal, WorkerPrincipal } from '@agentfleet/domain';
import type { WorkerTokenRecord } from '@agentfleet/fleet';

export const AUTH_KIND = 'agentfleet:auth';
export const REQUIRED_SCOPES = 'agentfleet:scopes';

/** No credential needed (health, docs). */
export const Public = () => SetMetadata(AUTH_KIND, 'public');
/** Authenticated by a worker token instead of an API key. */
export const WorkerAuth = () => SetMetadata(AUTH_KIND, 'worker');
/** The API key must hold every one of these scopes. */
export const RequireScopes = (...scopes: Scope[]) => SetMetadata(REQUIRED_SCOPES, scopes);

export interface AuthedRequest {
  principal?: Principal;
  worker?: { principal: WorkerPrincipal; token: WorkerTokenRecord };
  ip?: string;
  id?: unknown;
}

/** The API-key principal of the request. */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest>();
  if (!req.principal) throw new Error('route has no API-key authentication');
  return req.principal;
});

/** The worker-token principal of the request. */
export const CurrentWorker = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest>();
  if (!req.worker) throw new Error('route has no worker-token authentication');
  return req.worker;
});

/** The caller's address, as Express resolved it (honours AGENTFLEET_TRUST_PROXY). */
export const ClientIp = createParamDecorator((_: unknown, ctx: ExecutionContext): string | null => {
  return ctx.switchToHttp().getRequest<AuthedRequest>().ip ?? null;
});
