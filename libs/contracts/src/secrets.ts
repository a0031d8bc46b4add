import { z } from 'zod';

/** Secret names are environment-variable names: what a job's env would call them anyway. */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export const secretNameSchema = z
  .string()
  .regex(
    SECRET_NAME_PATTERN,
    'secret names are letters, digits and _ (not starting with a digit), at most 128',
  );

/** Largest secret value; the same cap as a plain env value. */
export const SECRET_VALUE_MAX = 32_768;

export const putSecretSchema = z.strictObject({
  value: z
    .string()
    .min(1)
    .max(SECRET_VALUE_MAX)
    .describe('Stored encrypted (AES-256-GCM); never returned by any endpoint'),
  description: z
    .string()
    .max(2000)
    .optional()
    .describe('Shown with the metadata; when replacing a secret, left as it was if omitted'),
});
export type PutSecretInput = z.infer<typeof putSecretSchema>;

export const secretNameParamSchema = z.strictObject({ name: secretNameSchema });

/** A job env value that names an organization secret instead of carrying the value: `{"secret": "OPENAI_KEY"}`. */
export const secretRefSchema = z.strictObject({
  secret: secretNameSchema.describe('Name of a secret of the organization (PUT /api/v1/secrets/{name})'),
});
export type SecretRef = z.infer<typeof secretRefSchema>;

/** One value of a job's env: the value itself, or a reference resolved when the job starts. */
export type JobEnvValue = string | SecretRef;

/** The references of an env, as variable → secret name (empty when it has none). */
export function secretRefsOf(env: Readonly<Record<string, JobEnvValue>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v !== 'string') out[k] = v.secret;
  return out;
}

/** The plain values of an env: what may travel in a queue payload. */
export function plainEnvOf(env: Readonly<Record<string, JobEnvValue>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * What a worker receives for the job it is starting (over HTTPS, with its worker token): the opened
 * values of the job's secret references by variable name. Never stored in Redis or the job row.
 */
export const jobSecretEnvSchema = z.object({ env: z.record(z.string(), z.string()) });
export type JobSecretEnv = z.infer<typeof jobSecretEnvSchema>;
