import { z } from 'zod';

/**
 * What the agent-runtime (the program inside an execution container) prints on stdout: one JSON object
 * per line. Version 1. A line that is not such an object is kept as a log line.
 */
export const RUNTIME_EVENT_VERSION = 1;

export const runtimeEventSchema = z.discriminatedUnion('type', [
  z.object({
    v: z.literal(1),
    type: z.literal('progress'),
    progress: z.number().min(0).max(1),
    message: z.string().max(2000).optional(),
  }),
  z.object({
    v: z.literal(1),
    type: z.literal('log'),
    level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    message: z.string().max(16_000),
  }),
  z.object({ v: z.literal(1), type: z.literal('result'), output: z.unknown() }),
  z.object({
    v: z.literal(1),
    type: z.literal('usage'),
    model: z.string().max(200),
    prompt_tokens: z.number().int().min(0),
    completion_tokens: z.number().int().min(0),
    cost_usd: z.number().min(0).optional(),
  }),
]);
export type RuntimeEvent = z.infer<typeof runtimeEventSchema>;

/** Parses one stdout line: a valid event, or a log line carrying the raw text (cut to the log limit). */
export function parseRuntimeLine(line: string): RuntimeEvent {
  // parsed before any cut: a large result is a valid event, not a truncated log line
  if (line.startsWith('{')) {
    try {
      const parsed = runtimeEventSchema.safeParse(JSON.parse(line));
      if (parsed.success) return parsed.data;
    } catch {
      // not JSON: a plain log line
    }
  }
  return { v: 1, type: 'log', level: 'info', message: line.length > 16_000 ? line.slice(0, 16_000) : line };
}
