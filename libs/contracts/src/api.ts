import { z } from 'zod';
import { CAPABILITIES, WORKER_SCHEDULING, labelsSchema, poolNameSchema } from './fleet';
import { ROLE_NAMES, SCOPES } from './scopes';

const name = z.string().trim().min(1).max(255);
const futureDate = z.iso
  .datetime({ offset: true })
  .refine((v) => Date.parse(v) > Date.now(), 'must be in the future');

export const paginationQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

const capabilitiesSchema = z
  .array(z.enum(CAPABILITIES))
  .min(1)
  .max(CAPABILITIES.length)
  .refine((c) => new Set(c).size === c.length, 'capabilities must not repeat');
const maxConcurrentTasksSchema = z.number().int().min(1).max(1024);
const tokenPoolsSchema = z
  .array(poolNameSchema)
  .min(1)
  .max(32)
  .refine((p) => new Set(p).size === p.length, 'pools must not repeat');

export const createWorkerTokenSchema = z.strictObject({
  name,
  labels: labelsSchema.default({}),
  capabilities: capabilitiesSchema.default(['execute', 'ingest']),
  max_concurrent_tasks: maxConcurrentTasksSchema.default(4),
  pools: tokenPoolsSchema.default(['default']),
  expires_at: futureDate.optional(),
});
export type CreateWorkerTokenInput = z.infer<typeof createWorkerTokenSchema>;

/** A change of a live worker token's settings: only the fields given change (labels are replaced whole). */
export const updateWorkerTokenSchema = z
  .strictObject({
    name: name.optional(),
    labels: labelsSchema.optional().describe("Replaces the token's labels"),
    capabilities: capabilitiesSchema.optional(),
    max_concurrent_tasks: maxConcurrentTasksSchema.optional(),
    pools: tokenPoolsSchema.optional(),
  })
  .refine(
    (v) => Object.values(v).some((x) => x !== undefined),
    'at least one of name, labels, capabilities, max_concurrent_tasks, pools',
  );
export type UpdateWorkerTokenInput = z.infer<typeof updateWorkerTokenSchema>;

export const createApiKeySchema = z.strictObject({
  name,
  role: z.enum(ROLE_NAMES),
  scopes: z
    .array(z.enum(SCOPES))
    .max(SCOPES.length)
    .optional()
    .describe("Defaults to every permission of the role; must be a subset of the role's and of the caller's"),
  user_id: z.uuid().optional(),
  rate_limit_per_hour: z.number().int().min(0).max(10_000_000).default(0).describe('0 = unlimited'),
  expires_at: futureDate.optional(),
});
export type CreateApiKeyInput = z.infer<typeof createApiKeySchema>;

export const createUserSchema = z.strictObject({
  email: z.email().max(255),
  name: z.string().trim().min(1).max(255).optional(),
  roles: z.array(z.enum(ROLE_NAMES)).min(1).max(ROLE_NAMES.length).default(['viewer']),
  external_id: z.string().min(1).max(255).optional(),
});
export type CreateUserInput = z.infer<typeof createUserSchema>;

export const updateUserSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(255).optional(),
    roles: z.array(z.enum(ROLE_NAMES)).min(1).max(ROLE_NAMES.length).optional(),
    is_active: z.boolean().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'at least one of name, roles, is_active');
export type UpdateUserInput = z.infer<typeof updateUserSchema>;

export const createOrganizationSchema = z.strictObject({
  name: z
    .string()
    .min(2)
    .max(63)
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and dashes'),
  display_name: z.string().trim().min(1).max(255).optional(),
  settings: z.record(z.string(), z.unknown()).default({}),
  admin_key_name: z.string().trim().min(1).max(255).default('bootstrap admin'),
});
export type CreateOrganizationInput = z.infer<typeof createOrganizationSchema>;

export const auditQuerySchema = paginationQuerySchema.extend({
  action: z.string().max(100).optional(),
  resource_type: z.string().max(100).optional(),
  resource_id: z.string().max(255).optional(),
});
export type AuditQuery = z.infer<typeof auditQuerySchema>;

export const listWorkersQuerySchema = paginationQuerySchema.extend({
  status: z.enum(['online', 'lost', 'offline']).optional(),
  pool: poolNameSchema.optional(),
  scheduling: z
    .enum(WORKER_SCHEDULING)
    .optional()
    .describe('What an operator asked of the worker: active, cordoned (no new jobs) or draining'),
});
export type ListWorkersQuery = z.infer<typeof listWorkersQuerySchema>;

export const uuidParamSchema = z.strictObject({ id: z.uuid() });
