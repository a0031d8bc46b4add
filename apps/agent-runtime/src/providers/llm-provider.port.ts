/** One request to a model: the task, with an optional system prompt. */
export interface CompletionRequest {
  model: string;
  system?: string;
  prompt: string;
  maxTokens: number;
  /** Aborts the HTTP request (per-request timeout, or the container being stopped). */
  signal: AbortSignal;
}

export interface Completion {
  text: string;
  /** As reported by the provider; null when the response carried none. */
  usage: { promptTokens: number; completionTokens: number } | null;
  /** The model that answered (providers may resolve an alias). */
  model: string;
}

/** Port: one LLM provider's wire format. One file per provider under providers/. */
export interface LlmProvider {
  readonly name: string;
  complete(request: CompletionRequest): Promise<Completion>;
}

/** A provider call that failed; `retryable` for rate limits, server errors and dropped connections. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryable: boolean,
    /** From a Retry-After header, when the provider sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}
