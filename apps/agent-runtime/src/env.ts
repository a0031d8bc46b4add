import { z } from 'zod';

export const ENGINE_PROVIDERS = ['openai', 'anthropic'] as const;
export type EngineProvider = (typeof ENGINE_PROVIDERS)[number];

/** An unset and an empty variable mean the same: the container spec may carry `KEY=`. */
const blankAsUnset = (v: unknown) => (v === '' ? undefined : v);

function required(what: string) {
  return z.preprocess(blankAsUnset, z.string({ error: `is required: ${what}` }));
}

function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(blankAsUnset, schema.optional());
}

/**
 * Every variable the agent-runtime reads, once, at start. The worker sets them from the job and its
 * engine; a bad or missing one ends the program with exit code 2 naming it (values are never echoed).
 */
export const agentRuntimeEnvSchema = z.object({
  AGENTFLEET_PROMPT: required('the task for the engine'),
  AGENTFLEET_ENGINE_PROVIDER: z.preprocess(
    blankAsUnset,
    z.enum(ENGINE_PROVIDERS, { error: `is required: one of ${ENGINE_PROVIDERS.join(', ')}` }),
  ),
  /** Defaults to the provider's public API. */
  AGENTFLEET_ENGINE_BASE_URL: optional(z.url({ protocol: /^https?$/, error: 'is not an http(s) URL' })),
  AGENTFLEET_ENGINE_MODEL: required('the model name'),
  AGENTFLEET_ENGINE_API_KEY: required('the provider API key'),
  AGENTFLEET_ENGINE_SYSTEM_PROMPT: optional(z.string()),
  AGENTFLEET_ENGINE_MAX_TOKENS: z.preprocess(
    blankAsUnset,
    z.coerce.number().int().positive().max(1_000_000).default(1024),
  ),
  /** Per HTTP request to the provider (each try of a retried call gets its own). */
  AGENTFLEET_ENGINE_TIMEOUT_MS: z.preprocess(
    blankAsUnset,
    z.coerce.number().int().positive().max(3_600_000).default(120_000),
  ),
});
export type AgentRuntimeEnv = z.infer<typeof agentRuntimeEnvSchema>;
