import { RUNTIMES } from '@agentfleet/contracts';
import { cpus, hostname, totalmem } from 'node:os';
import { z } from 'zod';

const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

/** Every variable the worker reads. Read once, at start; a bad value stops start-up naming it. */
export const workerEnvSchema = z.object({
  AGENTFLEET_WORKER_TOKEN: z
    .string({ error: 'is required: a worker token (awt_…) from POST /api/v1/worker-tokens' })
    .regex(
      /^awt_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/,
      'is not a worker token (expected awt_<prefix>_<secret>)',
    ),
  AGENTFLEET_CONTROL_PLANE_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8080'),
  AGENTFLEET_REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  AGENTFLEET_WORKER_INSTANCE_ID: z.string().min(1).max(255).default(hostname()),
  AGENTFLEET_WORKER_LABELS: csv
    .pipe(z.array(z.string().regex(/^[^=]+=[^=]*$/, 'labels are key=value pairs separated by commas')))
    .transform((pairs) => Object.fromEntries(pairs.map((p) => p.split('=') as [string, string])))
    .default({}),
  AGENTFLEET_WORKER_MEMORY_MB: z.coerce
    .number()
    .int()
    .positive()
    .default(Math.floor(totalmem() / 1024 / 1024)),
  AGENTFLEET_WORKER_CPUS: z.coerce.number().positive().default(cpus().length),
  AGENTFLEET_WORKER_RUNTIMES: csv.pipe(z.array(z.enum(RUNTIMES))).default(['process']),
  AGENTFLEET_WORKER_SLOTS: z.coerce.number().int().positive().optional(),
  AGENTFLEET_WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  AGENTFLEET_WORKER_HEALTH_HOST: z.string().default('0.0.0.0'),
  AGENTFLEET_JOB_LOCK_DURATION_MS: z.coerce.number().int().min(5_000).max(3_600_000).default(60_000),
  AGENTFLEET_DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),
  AGENTFLEET_KUBECONFIG: z.string().min(1).optional(),
  AGENTFLEET_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  AGENTFLEET_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
  AGENTFLEET_LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
});
export type WorkerEnv = z.infer<typeof workerEnvSchema>;
export const WORKER_ENV = Symbol('WORKER_ENV');
