import { z } from 'zod';
import { poolNameSchema } from './fleet';
import { secretRefSchema } from './secrets';

/** Execution job status (ARCHITECTURE.md §2). */
export const EXECUTION_JOB_STATUSES = [
  'queued',
  'running',
  'awaiting_approval',
  'completed',
  'failed',
  'oom',
  'failed_circuit_open',
  'timed_out',
  'cancelled',
] as const;
export type ExecutionJobStatus = (typeof EXECUTION_JOB_STATUSES)[number];
export const TERMINAL_JOB_STATUSES: readonly ExecutionJobStatus[] = [
  'completed',
  'failed',
  'oom',
  'failed_circuit_open',
  'timed_out',
  'cancelled',
];

export const TARGET_TYPES = ['docker', 'kubernetes', 'process'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

export const ENGINE_PROVIDERS = ['openai', 'anthropic'] as const;

export const createEngineSchema = z.strictObject({
  name: z.string().trim().min(1).max(255),
  provider: z
    .enum(ENGINE_PROVIDERS)
    .describe('openai = any OpenAI-compatible Chat Completions API; anthropic = Messages API'),
  base_url: z
    .url({ protocol: /^https?$/ })
    .max(1024)
    .optional(),
  model: z.string().min(1).max(200),
  api_key: z.string().min(1).max(4096).optional().describe('Stored encrypted (AES-256-GCM); never returned'),
  max_tokens: z.number().int().min(1).max(1_000_000).default(1024),
  system_prompt: z.string().max(100_000).optional(),
  timeout_ms: z.number().int().min(1000).max(3_600_000).default(120_000),
  is_default: z.boolean().default(false),
  description: z.string().max(2000).optional(),
});
export type CreateEngineInput = z.infer<typeof createEngineSchema>;

/** What a worker receives for an engine job it runs (over HTTPS, with its worker token): never stored in Redis. */
export const engineRuntimeConfigSchema = z.object({
  provider: z.enum(ENGINE_PROVIDERS),
  base_url: z.string().nullable(),
  model: z.string(),
  api_key: z.string().nullable(),
  max_tokens: z.number().int(),
  system_prompt: z.string().nullable(),
  timeout_ms: z.number().int(),
});
export type EngineRuntimeConfig = z.infer<typeof engineRuntimeConfigSchema>;

/** Smallest memory limit a job may ask for: below it Node-based runtimes cannot start. */
export const MEMORY_FLOOR_MB = 32;

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'environment variable names are letters, digits and _');

export const createJobSchema = z
  .strictObject({
    image: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .describe("Container image; defaults to the target's agent-runtime image"),
    engine_id: z.uuid().optional().describe('Execution engine to drive (with `prompt`)'),
    command: z.array(z.string().max(8192)).min(1).max(256).optional().describe('argv, never a shell string'),
    prompt: z.string().min(1).max(200_000).optional(),
    env: z
      .record(envName, z.union([z.string().max(32_768), secretRefSchema]))
      .refine((e) => Object.keys(e).length <= 128, 'at most 128 variables')
      .refine((e) => JSON.stringify(e).length <= 131_072, 'env is larger than 128 KiB')
      .default({})
      .describe(
        'Variables of the job. A value is a string, or {"secret": "NAME"}: an organization secret resolved when the job starts (its value is never stored with the job nor queued; referencing secrets takes the secrets:read scope)',
      ),
    memory_limit_mb: z
      .number()
      .int()
      .min(MEMORY_FLOOR_MB, `must be at least ${MEMORY_FLOOR_MB}`)
      .max(1_048_576)
      .default(256),
    cpu: z.number().positive().max(64).default(0.5),
    pids_limit: z.number().int().min(8).max(32_768).default(256),
    timeout_seconds: z.number().int().min(1).max(86_400).default(600),
    network: z.boolean().default(false),
    retries: z
      .strictObject({
        max: z.number().int().min(0).max(10).default(0),
        backoff_ms: z.number().int().min(0).max(3_600_000).default(1000),
      })
      .default({ max: 0, backoff_ms: 1000 }),
    oom_retry: z
      .strictObject({
        enabled: z.boolean().default(false),
        max_memory_mb: z.number().int().min(MEMORY_FLOOR_MB).max(1_048_576).optional(),
      })
      .default({ enabled: false }),
    target_id: z.uuid().optional(),
    pool: poolNameSchema.optional(),
    priority: z.number().int().min(1).max(1000).default(100).describe('1 runs first'),
    idempotency_key: z.string().min(1).max(255).optional(),
    supervisor_run_id: z.uuid().optional(),
    metadata: z.record(z.string(), z.unknown()).default({}),
  })
  .refine(
    (j) =>
      j.image !== undefined || j.engine_id !== undefined || j.command !== undefined || j.prompt !== undefined,
    {
      message: 'one of image, command, engine_id or prompt is required',
      path: ['image'],
    },
  )
  .refine((j) => j.engine_id === undefined || j.prompt !== undefined, {
    message: 'an engine job needs a prompt',
    path: ['prompt'],
  });
export type CreateJobInput = z.infer<typeof createJobSchema>;

/** Most jobs one batch submission may carry. */
export const JOB_BATCH_MAX = 100;

/**
 * Several jobs in one request, stored in one transaction: all of them or none (the first invalid one is
 * named as `jobs.N.field`). Each idempotency key may appear once in a batch.
 */
export const createJobBatchSchema = z.strictObject({
  jobs: z.array(createJobSchema).min(1).max(JOB_BATCH_MAX),
});
export type CreateJobBatchInput = z.infer<typeof createJobBatchSchema>;

export const listJobsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  status: z.enum(EXECUTION_JOB_STATUSES).optional(),
  pool: poolNameSchema.optional(),
  worker_id: z.uuid().optional(),
  target_id: z.uuid().optional(),
  created_after: z.iso.datetime({ offset: true }).optional(),
  created_before: z.iso.datetime({ offset: true }).optional(),
});
export type ListJobsQuery = z.infer<typeof listJobsQuerySchema>;

const targetConnectionSchema = z.strictObject({
  socket_path: z.string().max(1024).optional(),
  host: z.string().max(255).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  namespace: z.string().max(63).optional(),
  kubeconfig_path: z.string().max(1024).optional(),
  network_mode: z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/)
    .optional()
    .describe('Docker network for jobs that ask for one (default bridge)'),
});

/** Each field of a target's capacity and breaker options, shared by create (with defaults) and update (partial). */
const capacityFields = {
  max_memory_mb: z.number().int().min(MEMORY_FLOOR_MB).max(1_048_576),
  max_cpu: z.number().positive().max(256),
  max_concurrent: z.number().int().min(1).max(10_000),
};
const breakerFields = {
  error_threshold_percentage: z.number().int().min(1).max(100),
  volume_threshold: z.number().int().min(1).max(1000),
  reset_timeout_ms: z.number().int().min(100).max(3_600_000),
  rolling_window_ms: z.number().int().min(1000).max(3_600_000),
};
const allowedImagesSchema = z
  .array(z.string().min(1).max(512))
  .max(256)
  .describe('Exact names or prefixes ending in *; empty = any');
const imageNameSchema = z.string().min(1).max(512);

export const createTargetSchema = z.strictObject({
  name: z.string().trim().min(1).max(255),
  type: z.enum(TARGET_TYPES),
  worker_pool: poolNameSchema.default('default'),
  connection: targetConnectionSchema.default({}),
  capacity: z
    .strictObject({
      max_memory_mb: capacityFields.max_memory_mb.default(4096),
      max_cpu: capacityFields.max_cpu.default(4),
      max_concurrent: capacityFields.max_concurrent.default(8),
    })
    .default({ max_memory_mb: 4096, max_cpu: 4, max_concurrent: 8 })
    .describe(
      'max_memory_mb and max_cpu: the most one job may ask for (checked at submission). max_concurrent: containers on the target at once across all workers (slot leases in Redis); a job finding it full re-routes to another target of its pool or waits in its queue until a slot frees up',
    ),
  allowed_images: allowedImagesSchema.default([]),
  default_image: imageNameSchema.default('agentfleet/agent-runtime:dev'),
  breaker: z
    .strictObject({
      error_threshold_percentage: breakerFields.error_threshold_percentage.default(50),
      volume_threshold: breakerFields.volume_threshold.default(3),
      reset_timeout_ms: breakerFields.reset_timeout_ms.default(30_000),
      rolling_window_ms: breakerFields.rolling_window_ms.default(60_000),
    })
    .default({
      error_threshold_percentage: 50,
      volume_threshold: 3,
      reset_timeout_ms: 30_000,
      rolling_window_ms: 60_000,
    }),
});
export type CreateTargetInput = z.infer<typeof createTargetSchema>;
export type BreakerOptions = CreateTargetInput['breaker'];

const nonEmpty = (o: object) => Object.values(o).some((v) => v !== undefined);

/**
 * A change of an execution target: only the fields given change; `capacity` and `breaker` are merged
 * field by field into the stored ones. `name`, `type`, `worker_pool` and `connection` are accepted only
 * with their current value (a different one is a 409 naming the field).
 */
export const updateTargetSchema = z
  .strictObject({
    capacity: z
      .strictObject({
        max_memory_mb: capacityFields.max_memory_mb.optional(),
        max_cpu: capacityFields.max_cpu.optional(),
        max_concurrent: capacityFields.max_concurrent.optional(),
      })
      .refine(nonEmpty, 'at least one of max_memory_mb, max_cpu, max_concurrent')
      .optional()
      .describe(
        "max_memory_mb and max_cpu are caps checked when a job is submitted; jobs already accepted keep the limits they were accepted with. max_concurrent is how many containers run on the target at once across all workers: a worker leases a slot of the target in Redis before it starts a container and gives it back when the container ends (a dead worker's slots lapse with its job locks); a job whose target is full runs on another target of its pool with a free slot, or waits in its queue (deferred, still `queued`, the same attempt) until one frees up; waiting jobs take freed slots in turn, by priority and then by queue time. A changed max_concurrent applies to jobs submitted or queued again from then on",
      ),
    allowed_images: allowedImagesSchema
      .optional()
      .describe(
        'Checked when a job is submitted (exact names or prefixes ending in *; empty = any); queued jobs keep their image',
      ),
    default_image: imageNameSchema.optional().describe('Image of jobs submitted from now on without one'),
    breaker: z
      .strictObject({
        error_threshold_percentage: breakerFields.error_threshold_percentage.optional(),
        volume_threshold: breakerFields.volume_threshold.optional(),
        reset_timeout_ms: breakerFields.reset_timeout_ms.optional(),
        rolling_window_ms: breakerFields.rolling_window_ms.optional(),
      })
      .refine(
        nonEmpty,
        'at least one of error_threshold_percentage, volume_threshold, reset_timeout_ms, rolling_window_ms',
      )
      .optional()
      .describe(
        "Circuit-breaker options. Every job carries its target's current options; a running worker takes changed options with its next job on the target (the breaker keeps its open/half-open/closed state, its rolling counts start afresh), and jobs queued before the change do not bring the old ones back",
      ),
    is_active: z
      .boolean()
      .optional()
      .describe(
        'false: no new job is routed to the target; jobs already in a queue keep the targets copied into their queue entry and may still run on it; a job queued again later (retry, hand-back) goes to the active targets of its pool. true: the target takes jobs again',
      ),
    name: z
      .string()
      .trim()
      .min(1)
      .max(255)
      .optional()
      .describe('Cannot be changed: jobs and metrics carry the name of the target they ran on'),
    type: z.enum(TARGET_TYPES).optional().describe('Cannot be changed: create a target of the other type'),
    worker_pool: poolNameSchema
      .optional()
      .describe(
        'Cannot be changed: jobs queued for the old pool carry this target; create a target in the other pool and deactivate this one',
      ),
    connection: targetConnectionSchema
      .optional()
      .describe(
        'Cannot be changed: each worker keeps a runtime client per target built from its connection until it restarts; create a target with the new connection and deactivate this one',
      ),
  })
  .refine(nonEmpty, 'at least one field to change');
export type UpdateTargetInput = z.infer<typeof updateTargetSchema>;
