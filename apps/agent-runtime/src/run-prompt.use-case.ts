import type { LlmProvider } from './providers/llm-provider.port';
import { ProviderError } from './providers/llm-provider.port';
import type { EmitEvent } from './runtime-event.writer';

export interface RunPromptCommand {
  model: string;
  prompt: string;
  system?: string;
  maxTokens: number;
  /** Per HTTP request. */
  timeoutMs: number;
}

export interface RunPromptDeps {
  provider: LlmProvider;
  emit: EmitEvent;
  /** Aborted when the container is being stopped. */
  stop: AbortSignal;
  /** Wait before the one retry, unless the provider sent Retry-After. */
  retryBackoffMs?: number;
}

/** A Retry-After longer than this is not worth waiting for inside a job with its own deadline. */
const MAX_RETRY_WAIT_MS = 5_000;

/**
 * Sends the task to the engine and reports it as runtime events: progress 0, request sent, 1, then usage
 * and the result. A rate limit, a server error or a dropped connection gets one more try after a short
 * backoff; any other failure throws (the caller prints it and exits non-zero).
 */
export async function runPrompt(cmd: RunPromptCommand, deps: RunPromptDeps): Promise<void> {
  const { provider, emit, stop } = deps;
  emit({ v: 1, type: 'progress', progress: 0, message: `engine ${provider.name}, model ${cmd.model}` });
  const request = () =>
    provider.complete({
      model: cmd.model,
      prompt: cmd.prompt,
      ...(cmd.system ? { system: cmd.system } : {}),
      maxTokens: cmd.maxTokens,
      signal: AbortSignal.any([stop, AbortSignal.timeout(cmd.timeoutMs)]),
    });

  emit({ v: 1, type: 'progress', progress: 0.1, message: `request sent to ${provider.name}` });
  let completion;
  try {
    completion = await request();
  } catch (e) {
    if (!(e instanceof ProviderError) || !e.retryable || stop.aborted) throw e;
    const waitMs = Math.min(e.retryAfterMs ?? deps.retryBackoffMs ?? 500, MAX_RETRY_WAIT_MS);
    emit({ v: 1, type: 'log', level: 'warn', message: `${e.message}; retrying once in ${waitMs} ms` });
    await sleep(waitMs, stop);
    completion = await request();
  }

  emit({ v: 1, type: 'progress', progress: 1, message: `answer received from ${provider.name}` });
  if (completion.usage) {
    emit({
      v: 1,
      type: 'usage',
      model: completion.model.slice(0, 200),
      prompt_tokens: completion.usage.promptTokens,
      completion_tokens: completion.usage.completionTokens,
    });
  } else {
    emit({ v: 1, type: 'log', level: 'warn', message: `${provider.name} reported no token usage` });
  }
  emit({ v: 1, type: 'result', output: completion.text });
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stop.aborted) return reject(new Error('stopped'));
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('stopped'));
    };
    const t = setTimeout(() => {
      stop.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    stop.addEventListener('abort', onAbort, { once: true });
  });
}
