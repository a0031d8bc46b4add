import { z } from 'zod';
import {
  type Completion,
  type CompletionRequest,
  type LlmProvider,
  ProviderError,
} from './llm-provider.port';
import { httpError, postJson } from './post-json';

const responseSchema = z.object({
  model: z.string().optional(),
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable().optional() }) })).min(1),
  usage: z
    .object({ prompt_tokens: z.number().int().min(0), completion_tokens: z.number().int().min(0) })
    .nullish(),
});

const errorSchema = z.object({ error: z.object({ message: z.string() }) });

/** OpenAI Chat Completions, and every server that speaks it (vLLM, Ollama, LiteLLM, Azure-style proxies). */
export class OpenAiProvider implements LlmProvider {
  readonly name = 'openai';

  /** @param baseUrl up to and including the version segment, e.g. https://api.openai.com/v1 */
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async complete(req: CompletionRequest): Promise<Completion> {
    const messages = [
      ...(req.system ? [{ role: 'system', content: req.system }] : []),
      { role: 'user', content: req.prompt },
    ];
    const res = await postJson(
      this.name,
      `${this.baseUrl}/chat/completions`,
      { authorization: `Bearer ${this.apiKey}` },
      { model: req.model, messages, max_tokens: req.maxTokens },
      req.signal,
    );
    if (res.status < 200 || res.status >= 300) {
      const err = errorSchema.safeParse(res.json);
      throw httpError(this.name, res, err.success ? err.data.error.message : undefined);
    }
    const body = responseSchema.safeParse(res.json);
    if (!body.success) {
      throw new ProviderError(
        `${this.name} answered HTTP ${res.status} with an unexpected body`,
        res.status,
        false,
      );
    }
    const { choices, usage, model } = body.data;
    return {
      text: choices[0]?.message.content ?? '',
      usage: usage ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens } : null,
      model: model ?? req.model,
    };
  }
}
