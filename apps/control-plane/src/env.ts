import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const ms = (def: number, min = 100) => z.coerce.number().int().min(min).max(86_400_000).default(def);

/** Every variable the control plane reads. Read once, at start; a bad value stops start-up naming it. */
export const controlPlaneEnvSchema = z
  .object({
    AGENTFLEET_HOST: z.string().default('0.0.0.0'),
    AGENTFLEET_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
    AGENTFLEET_DATABASE_URL: z
      .url({ protocol: /^postgres(ql)?$/ })
      .default('postgres://postgres@127.0.0.1:5432/agentfleet'),
    AGENTFLEET_DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    AGENTFLEET_REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
    AGENTFLEET_REDIS_PREFIX: z
      .string()
      .regex(/^[a-zA-Z0-9_.-]*:$/, 'must end with ":" and use letters, digits, _ . -')
      .default('af:'),
    AGENTFLEET_HEARTBEAT_INTERVAL_MS: ms(5_000),
    AGENTFLEET_WORKER_GRACE_PERIOD_MS: ms(15_000),
    AGENTFLEET_REAPER_INTERVAL_MS: ms(1_000, 50),
    AGENTFLEET_LEADER_LOCK_TTL_MS: ms(5_000),
    AGENTFLEET_MIGRATE_ON_START: bool.default(true),
    AGENTFLEET_BOOTSTRAP_ON_START: bool.default(true),
    AGENTFLEET_BODY_LIMIT: z
      .string()
      .regex(/^\d+(b|kb|mb)$/, 'a size such as 256kb or 1mb')
      .default('256kb'),
    AGENTFLEET_TRUST_PROXY: bool.default(false),
    AGENTFLEET_SECRET_KEYS: z
      .string()
      .regex(/^([A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]{40,48})(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]{40,48})*$/, 'id:base64-key pairs separated by commas')
      .optional()
      .describe('AES-256-GCM keys for secrets at rest; the first seals, all open'),
    AGENTFLEET_LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    AGENTFLEET_LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  })
  .refine((e) => e.AGENTFLEET_WORKER_GRACE_PERIOD_MS > e.AGENTFLEET_HEARTBEAT_INTERVAL_MS, {
    path: ['AGENTFLEET_WORKER_GRACE_PERIOD_MS'],
    message: 'must be longer than AGENTFLEET_HEARTBEAT_INTERVAL_MS',
  });
export type ControlPlaneEnv = z.infer<typeof controlPlaneEnvSchema>;

export const CONTROL_PLANE_ENV = Symbol('CONTROL_PLANE_ENV');
