import { parseEnv } from '@agentfleet/contracts';
import { type AgentRuntimeEnv, agentRuntimeEnvSchema } from './env';
import { EXIT } from './exit-codes';
import { createProvider } from './providers/create-provider';
import { runPrompt } from './run-prompt.use-case';
import { createEventWriter } from './runtime-event.writer';

/** Wires the environment to one engine run; returns the exit code. Every failure is printed as an error log event first. */
export async function runAgent(
  source: NodeJS.ProcessEnv,
  writeLine: (line: string) => void,
  stop: AbortSignal,
): Promise<number> {
  let env: AgentRuntimeEnv;
  try {
    env = parseEnv(agentRuntimeEnvSchema, source);
  } catch (e) {
    // the key may be set even when another variable is bad: keep it out of the message regardless
    const emit = createEventWriter(writeLine, [source['AGENTFLEET_ENGINE_API_KEY']]);
    emit({ v: 1, type: 'log', level: 'error', message: e instanceof Error ? e.message : String(e) });
    return EXIT.config;
  }
  const emit = createEventWriter(writeLine, [env.AGENTFLEET_ENGINE_API_KEY]);
  const provider = createProvider(
    env.AGENTFLEET_ENGINE_PROVIDER,
    env.AGENTFLEET_ENGINE_BASE_URL,
    env.AGENTFLEET_ENGINE_API_KEY,
  );
  try {
    await runPrompt(
      {
        model: env.AGENTFLEET_ENGINE_MODEL,
        prompt: env.AGENTFLEET_PROMPT,
        ...(env.AGENTFLEET_ENGINE_SYSTEM_PROMPT ? { system: env.AGENTFLEET_ENGINE_SYSTEM_PROMPT } : {}),
        maxTokens: env.AGENTFLEET_ENGINE_MAX_TOKENS,
        timeoutMs: env.AGENTFLEET_ENGINE_TIMEOUT_MS,
      },
      { provider, emit, stop },
    );
    return EXIT.ok;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (stop.aborted) {
      emit({
        v: 1,
        type: 'log',
        level: 'error',
        message: `stopped before the engine answered (${String(stop.reason)})`,
      });
      return EXIT.terminated;
    }
    emit({ v: 1, type: 'log', level: 'error', message: reason });
    return EXIT.failed;
  }
}
