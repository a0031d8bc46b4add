import { z } from 'zod';

/** Version of the worker ⇄ control-plane protocol. Bump the major on any breaking change. */
export const WORKER_PROTOCOL_VERSION = 1;
/** Protocol versions this control plane accepts. */
export const SUPPORTED_WORKER_PROTOCOL_VERSIONS: readonly number[] = [1];

export const CAPABILITIES = ['execute', 'ingest', 'supervise'] as const;
export type Capability = (typeof CAPABILITIES)[number];
export const RUNTIMES = ['docker', 'kubernetes', 'process'] as const;

const labelKey = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-zA-Z0-9]([a-zA-Z0-9._/-]*[a-zA-Z0-9])?$/, 'label keys are alphanumerics with . _ / -');
export const labelsSchema = z
  .record(labelKey, z.string().max(255))
  .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels');

export const poolNameSchema = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'pool names are lowercase alphanumerics and dashes');

export const workerRegisterRequestSchema = z.strictObject({
  instance_id: z
    .string()
    .min(1)
    .max(255)
    .describe(
      'Stable id of this worker instance (defaults to the hostname); re-registering with it returns the same worker id',
    ),
  hostname: z.string().min(1).max(255),
  version: z.string().min(1).max(64),
  protocol_version: z.number().int().positive(),
  labels: labelsSchema.default({}),
  capacity: z
    .strictObject({
      memory_mb: z
        .number()
        .int()
        .positive()
        .max(16 * 1024 * 1024),
      cpus: z.number().positive().max(4096),
      runtimes: z.array(z.enum(RUNTIMES)).max(3).default([]),
      slots: z.number().int().positive().max(10_000).optional(),
    })
    .describe('What this worker can run'),
});
export type WorkerRegisterRequest = z.infer<typeof workerRegisterRequestSchema>;

export const workerRegisterResponseSchema = z.object({
  worker_id: z.uuid(),
  token_id: z.uuid(),
  organization_id: z.uuid(),
  heartbeat_interval_ms: z.number().int().positive(),
  grace_period_ms: z.number().int().positive(),
  concurrency: z.number().int().positive(),
  capabilities: z.array(z.enum(CAPABILITIES)),
  pools: z.array(z.string()),
  queues: z.array(z.string()),
  token_expires_at: z.string().nullable(),
  redis_key_prefix: z.string(),
});
export type WorkerRegisterResponse = z.infer<typeof workerRegisterResponseSchema>;

export const workerDeregisterRequestSchema = z
  .strictObject({
    reason: z.string().max(255).optional(),
  })
  .default({});

/** Liveness as recorded in PostgreSQL. */
export const WORKER_STATUSES = ['online', 'lost', 'offline'] as const;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];
/** What the operator asked of a worker. */
export const WORKER_SCHEDULING = ['active', 'cordoned', 'draining'] as const;
export type WorkerScheduling = (typeof WORKER_SCHEDULING)[number];

/** Control messages a worker receives with its heartbeat (Redis list `worker:{id}:tasks`). */
export const workerControlMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('drain') }),
  z.object({ type: z.literal('cordon') }),
  z.object({ type: z.literal('uncordon') }),
  z.object({ type: z.literal('stop'), reason: z.string() }),
  /** The worker's token changed (pools, capabilities, max_concurrent_tasks, labels): register again. */
  z.object({ type: z.literal('reload') }),
]);
export type WorkerControlMessage = z.infer<typeof workerControlMessageSchema>;
