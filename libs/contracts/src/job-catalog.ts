import { z } from 'zod';

/** Version of the job payloads; a worker refuses payloads of a version it does not know. */
export const JOB_PAYLOAD_VERSION = 1;

/** Everything a worker needs to run one attempt; secrets are resolved by the control plane. */
export const executionRunPayloadSchema = z.object({
  v: z.literal(1),
  job_id: z.uuid(),
  organization_id: z.uuid(),
  attempt: z.number().int().min(1),
  pool: z.string(),
  target_id: z.uuid().nullable(),
  /** An engine job: the worker fetches the engine's settings (and key) from the control plane at start. */
  engine_id: z.uuid().nullable(),
  /**
   * The chosen target first, then the pool's other targets: where to re-route when a breaker is open or
   * a target is full.
   */
  targets: z
    .array(
      z.object({
        id: z.uuid(),
        name: z.string(),
        type: z.enum(['docker', 'kubernetes', 'process']),
        connection: z.record(z.string(), z.unknown()),
        breaker: z.object({
          error_threshold_percentage: z.number(),
          volume_threshold: z.number(),
          reset_timeout_ms: z.number(),
          rolling_window_ms: z.number(),
          /**
           * When the target's options last changed (ms since the epoch): a worker's breaker takes the
           * options of a newer revision only, so jobs queued before a change do not bring the old ones
           * back. Absent in payloads of older control planes.
           */
          revision: z.number().int().optional(),
        }),
        /**
         * The target's `capacity.max_concurrent`: containers of all workers on it at once (leases in
         * Redis). Absent in payloads of older control planes: not limited.
         */
        max_concurrent: z.number().int().min(1).optional(),
      }),
    )
    .min(1),
  spec: z.object({
    image: z.string(),
    command: z.array(z.string()),
    env: z.record(z.string(), z.string()),
    /**
     * Variables whose values are organization secrets (variable → secret name): the worker asks the
     * control plane for their values at start, so no value ever sits in Redis. Absent = none.
     */
    secret_env: z.record(z.string(), z.string()).optional(),
    memory_limit_mb: z.number().int(),
    cpu: z.number(),
    pids_limit: z.number().int(),
    timeout_ms: z.number().int(),
    network: z.boolean(),
  }),
});
export type ExecutionRunPayload = z.infer<typeof executionRunPayloadSchema>;

/** One entry per job type: its queue, name, payload schema and BullMQ defaults. Declared once, used by both processes. */
export const JOB_CATALOG = {
  'execution.run': {
    queue: (pool: string) => `execution-${pool}`,
    schema: executionRunPayloadSchema,
    /** Retries are ours (attempt + fencing), not BullMQ's: one BullMQ attempt per execution attempt. */
    defaults: { attempts: 1, removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 86_400 } },
  },
} as const;
export type JobName = keyof typeof JOB_CATALOG;

/**
 * The worker's handlers, checked against the catalog at start: a job with no handler, or with two, or a
 * handler for a job the catalog does not know, stops the worker before it takes anything.
 */
export function handlerRegistry<H>(entries: readonly (readonly [string, H])[]): Map<JobName, H> {
  const out = new Map<JobName, H>();
  for (const [name, handler] of entries) {
    if (!(name in JOB_CATALOG)) throw new Error(`handler for unknown job "${name}"`);
    if (out.has(name as JobName)) throw new Error(`job "${name}" has two handlers`);
    out.set(name as JobName, handler);
  }
  const missing = Object.keys(JOB_CATALOG).filter((n) => !out.has(n as JobName));
  if (missing.length)
    throw new Error(`no handler for job${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  return out;
}
