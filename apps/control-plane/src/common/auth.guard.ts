import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Scope } from '@agentfleet/contracts';
import { AuthenticateApiKeyUseCase } from '@agentfleet/access';
import { ForbiddenError } from '@agentfleet/domain';
import { AuthenticateWorkerTokenUseCase } from '@agentfleet/fleet';
import type { Request } from 'express';
import { PinoLogger } from 'nestjs-pino';
import { AUTH_KIND, type AuthedRequest, REQUIRED_SCOPES } from './auth.decorators';

/** Reads `Authorization: Bearer <credential>` (or `X-API-Key`). */
function presentedCredential(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    return m ? m[1] : header; // a malformed header is still refused by the parser, with its reason
  }
  const x = req.headers['x-api-key'];
  return typeof x === 'string' ? x : undefined;
}

/**
 * Every route needs a credential unless marked @Public: API keys by default, worker tokens where
 * marked @WorkerAuth. Missing/invalid → 401, lacking a scope → 403.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: AuthenticateApiKeyUseCase,
    private readonly workerTokens: AuthenticateWorkerTokenUseCase,
    private readonly log: PinoLogger,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    const kind = this.reflector.getAllAndOverride<string | undefined>(AUTH_KIND, targets);
    if (kind === 'public') return true;
    const req = ctx.switchToHttp().getRequest<Request & AuthedRequest>();
    const presented = presentedCredential(req);
    if (kind === 'worker') {
      req.worker = await this.workerTokens.execute(presented);
      // every later line of this request says whose it is
      this.log.assign({
        organization_id: req.worker.principal.organizationId,
        worker_token_id: req.worker.principal.tokenId,
      });
      return true;
    }
    const principal = await this.apiKeys.execute(presented);
    req.principal = principal;
    this.log.assign({ organization_id: principal.organizationId, api_key_id: principal.apiKeyId });
    const required = this.reflector.getAllAndMerge<Scope[]>(REQUIRED_SCOPES, targets) ?? [];
    const missing = required.filter((s) => !principal.scopes.includes(s));
    if (missing.length) throw new ForbiddenError(`API key lacks scope ${missing.join(', ')}`);
    return true;
  }
}
