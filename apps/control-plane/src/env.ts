import { CAPABILITIES, labelsSchema, poolNameSchema } from '@agentfleet/contracts';
import { inspect } from 'node:util';
import { z } from 'zod';

/**
 * A secret read from the environment. The value sits in a private field and the object prints as a
 * hint (JSON, util.inspect, string), so logging the parsed environment never shows it.
 */
export class EnvSecret {
  readonly #value: string;
  constructor(
    value: string,
    /** What may be shown instead, e.g. a credential's kind and prefix. */
    readonly hint: string,
  ) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString() {
    return this.hint;
  }
  toJSON() {
    return this.hint;
  }
  [inspect.custom]() {
    return `EnvSecret(${this.hint})`;
  }
}

const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);
const distinct = (a: readonly string[]) => new Set(a).size === a.length;
/** `key=value,key=value`: what the Helm chart's `agentfleet.keyValueList` renders. */
const keyValueList = z
  .string()
  .transform((s, ctx) => {
    const out: Record<string, string> = {};
    for (const pair of s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const eq = pair.indexOf('=');
      const key = pair.slice(0, eq).trim();
      if (eq <= 0 || key in out) {
        ctx.addIssue({
          code: 'custom',
          message: eq <= 0 ? 'labels are key=value pairs separated by commas' : `label ${key} is given twice`,
        });
        return z.NEVER;
      }
      out[key] = pair.slice(eq + 1);
    }
    return out;
  })
  .pipe(labelsSchema);

/** The worker-token format (ARCHITECTURE.md §2): `awt_` + 12 letters/digits + `_` + 43 base64url characters. */
const WORKER_TOKEN = /^awt_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/;

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
    // off behind PgBouncer < 1.21 in transaction mode (its server connections do not share them)
    AGENTFLEET_DATABASE_PREPARED_STATEMENTS: bool.default(true),
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
    // the bootstrap worker token (Helm chart `bootstrapWorkerToken`): created or updated at start
    AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: z.preprocess(
      (v) => (v === '' ? undefined : v), // `${VAR:-}` in a compose file: off, like unset
      z
        .string()
        .regex(
          WORKER_TOKEN,
          'is not a worker token (expected awt_<12 letters/digits>_<43 base64url characters>)',
        )
        .transform((v) => new EnvSecret(v, `${v.slice(0, 17)}…`))
        .optional(),
    ),
    AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION: z
      .string()
      .max(63)
      .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'an organization name: lowercase letters, digits and dashes')
      .default('default'),
    AGENTFLEET_BOOTSTRAP_WORKER_NAME: z.string().trim().min(1).max(255).default('bootstrap'),
    AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES: csv
      .pipe(
        z
          .array(z.enum(CAPABILITIES))
          .min(1, `one or more of ${CAPABILITIES.join(', ')} separated by commas`)
          .refine(distinct, 'capabilities must not repeat'),
      )
      .default([...CAPABILITIES]),
    AGENTFLEET_BOOTSTRAP_WORKER_POOLS: csv
      .pipe(
        z
          .array(poolNameSchema)
          .min(1, 'one or more pool names separated by commas')
          .max(32)
          .refine(distinct, 'pools must not repeat'),
      )
      .default(['default']),
    AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS: z.coerce.number().int().min(1).max(1024).default(4),
    AGENTFLEET_BOOTSTRAP_WORKER_LABELS: keyValueList.default({}),
    AGENTFLEET_BODY_LIMIT: z
      .string()
      .regex(/^\d+(b|kb|mb)$/, 'a size such as 256kb or 1mb')
      .default('256kb'),
    AGENTFLEET_TRUST_PROXY: bool.default(false),
    AGENTFLEET_SECRET_KEYS: z
      .string()
      .regex(
        /^([A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]{40,48})(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]{40,48})*$/,
        'id:base64-key pairs separated by commas',
      )
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
