import {
  type Clock,
  type CredentialHasher,
  UnauthenticatedError,
  type WorkerPrincipal,
  parseCredential,
} from '@agentfleet/domain';
import type { WorkerTokenRecord, WorkerTokenRepository } from './fleet.ports';

/** Checks a presented `awt_…` token: constant-time hash compare, refuses revoked and expired tokens. */
export class AuthenticateWorkerTokenUseCase {
  constructor(
    private readonly tokens: WorkerTokenRepository,
    private readonly hasher: CredentialHasher,
    private readonly clock: Clock,
  ) {}

  async execute(
    presented: string | undefined,
  ): Promise<{ principal: WorkerPrincipal; token: WorkerTokenRecord }> {
    if (!presented)
      throw new UnauthenticatedError('a worker token is required (Authorization: Bearer awt_…)');
    const parsed = parseCredential(presented, 'awt');
    if (!parsed) throw new UnauthenticatedError('worker token is malformed');
    const token = await this.tokens.findByPrefix(parsed.prefix);
    const matches = this.hasher.matches(parsed.plaintext, token?.tokenHash ?? '0'.repeat(64));
    if (!token || !matches) throw new UnauthenticatedError('worker token is not valid');
    if (token.revokedAt) throw new UnauthenticatedError('worker token has been revoked');
    if (token.expiresAt && token.expiresAt.getTime() <= this.clock.now().getTime()) {
      throw new UnauthenticatedError('worker token has expired');
    }
    return {
      principal: { kind: 'worker_token', tokenId: token.id, organizationId: token.organizationId },
      token,
    };
  }
}
