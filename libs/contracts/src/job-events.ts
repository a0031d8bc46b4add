import { z } from 'zod';
import { EXECUTION_JOB_STATUSES } from './execution';

/** Version of the stream events (`events:job:{id}`); both processes validate what they read. */
export const JOB_EVENT_VERSION = 1;

const base = { v: z.literal(1), job_id: z.uuid(), attempt: z.number().int().min(1), at: z.string() };

/** What workers append to a job's Redis stream and the control plane persists and fans out. */
export const jobEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('started'),
    worker_id: z.uuid(),
    container_id: z.string().max(255),
    target_id: z.uuid().nullable(),
    target_host: z.string().max(255),
  }),
  z.object({
    ...base,
    type: z.literal('progress'),
    progress: z.number().min(0).max(1),
    message: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('log'),
    stream: z.enum(['stdout', 'stderr']),
    level: z.string(),
    message: z.string(),
  }),
  z.object({
    ...base,
    type: z.literal('usage'),
    model: z.string(),
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    cost_usd: z.number().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('finished'),
    status: z.enum(EXECUTION_JOB_STATUSES),
    exit_code: z.number().int().nullable(),
    result: z.unknown().optional(),
    error: z.string().max(4000).nullable(),
    oom_evidence: z.record(z.string(), z.unknown()).nullable(),
    peak_memory_mb: z.number().nullable(),
    memory_limit_mb: z.number().int(),
  }),
]);
export type JobEvent = z.infer<typeof jobEventSchema>;
