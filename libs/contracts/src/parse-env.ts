import type { z } from 'zod';

/** Parses the environment or throws one message that names every bad variable (values are not echoed). */
export function parseEnv<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv): z.infer<S> {
  const res = schema.safeParse(source);
  if (res.success) return res.data;
  const lines = res.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}
