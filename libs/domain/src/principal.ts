import type { RoleName, Scope } from '@agentfleet/contracts';

/** Who makes an API call: the authenticated API key, its organization and what it may do. */
export interface Principal {
  kind: 'api_key';
  apiKeyId: string;
  organizationId: string;
  userId: string | null;
  role: RoleName;
  scopes: readonly Scope[];
  instanceAdmin: boolean;
}

/** A worker authenticated by its worker token. */
export interface WorkerPrincipal {
  kind: 'worker_token';
  tokenId: string;
  organizationId: string;
}

/** Who did something, for the audit log. */
export interface Actor {
  organizationId: string;
  apiKeyId?: string | null;
  userId?: string | null;
  workerTokenId?: string | null;
  ipAddress?: string | null;
}

export function actorOf(p: Principal | WorkerPrincipal, ipAddress?: string | null): Actor {
  return p.kind === 'api_key'
    ? {
        organizationId: p.organizationId,
        apiKeyId: p.apiKeyId,
        userId: p.userId,
        ipAddress: ipAddress ?? null,
      }
    : { organizationId: p.organizationId, workerTokenId: p.tokenId, ipAddress: ipAddress ?? null };
}
