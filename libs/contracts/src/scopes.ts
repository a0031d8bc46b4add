/** Permissions an API key can hold. A key's scopes are always a subset of its role's permissions. */
export const SCOPES = [
  'organizations:read',
  'organizations:write',
  'users:read',
  'users:write',
  'api-keys:read',
  'api-keys:write',
  'worker-tokens:read',
  'worker-tokens:write',
  'workers:read',
  'workers:write',
  'audit:read',
  'jobs:read',
  'jobs:write',
  'targets:read',
  'targets:write',
  'queues:read',
  'queues:write',
  'secrets:read',
  'secrets:write',
] as const;
export type Scope = (typeof SCOPES)[number];

export const ROLE_NAMES = ['admin', 'operator', 'editor', 'viewer'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

/** Built-in roles. Operators run the fleet; editors and viewers use the product APIs (later issues). */
export const BUILTIN_ROLES: Record<RoleName, { description: string; permissions: readonly Scope[] }> = {
  admin: { description: 'Full control of the organization', permissions: SCOPES },
  operator: {
    description: 'Runs the worker fleet: tokens, workers, drain/cordon, audit log',
    permissions: [
      'organizations:read',
      'users:read',
      'worker-tokens:read',
      'worker-tokens:write',
      'workers:read',
      'workers:write',
      'audit:read',
      'jobs:read',
      'jobs:write',
      'targets:read',
      'targets:write',
      'queues:read',
      'queues:write',
      'secrets:read',
      'secrets:write',
    ],
  },
  editor: {
    description: 'Creates and changes workloads',
    // secrets:read: an editor sees secret names (never values) and may reference them in its jobs
    permissions: [
      'organizations:read',
      'users:read',
      'jobs:read',
      'jobs:write',
      'targets:read',
      'secrets:read',
    ],
  },
  viewer: {
    description: 'Reads workloads',
    permissions: ['organizations:read', 'users:read', 'jobs:read', 'targets:read'],
  },
};
