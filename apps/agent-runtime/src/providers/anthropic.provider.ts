import { z } from 'zod';
import {
  type Completion,
  type CompletionRequest,
  type LlmProvider,
  ProviderError,
} from './llm-provider.port';
import { httpError, postJson } from './post-json';

/** The Messages API version this client speaks; sent on every request. */
export const ANTHROPIC_VERSION = '2023-06-01';

const responseSchema = z.object({
  model: z.string().optional(),
  // tool_use, thinking and other blocks carry no text; only text blocks make the output
  content: z.array(z.object({ type: z.string(), text: z.string().optional() })),
  usage: z
    .object({ input_tokens: z.number().int().min(0), output_tokens: z.number().int().min(0) })
    .nullish(),
});

const errorSchema = z.object({ error: z.object({ type: z.string(), message: z.string() }) });

/** Anthropic Messages API. */
export class AnthropicProvider implements LlmProvider {
  readonly name = 'anthropic';

  /** @param baseUrl without the version segment, e.g. https://api.anthropic.com */
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async complete(req: CompletionRequest): Promise<Completion> {
    const res = await postJson(
      this.name,
      `${this.baseUrl}/v1/messages`,
      { 'x-api-key': this.apiKey, 'anthropic-version': ANTHROPIC_VERSION },
      {
        model: req.model,
        max_tokens: req.maxTokens,
        ...(req.system ? { system: req.system } : {}),
        messages: [{ role: 'user', content: req.prompt }],
      },
      req.signal,
    );
    if (res.status < 200 || res.status >= 300) {
      const err = errorSchema.safeParse(res.json);
      throw httpError(
        this.name,
        res,
        err.success ? `${err.data.error.type}: ${err.data.error.message}` : undefined,
      );
    }
    const body = responseSchema.safeParse(res.json);
    if (!body.success) {
      throw new ProviderError(
        `${this.name} answered HTTP ${res.status} with an unexpected body`,
        res.status,
        false,
      );
    }
    const { content, usage, model } = body.data;
    return {
      text: content
        .filter((b) => b.type === 'text')
        .map((b) => b.text ?? '')
        .join(''),
      usage: usage ? { promptTokens: usage.input_tokens, completionTokens: usage.output_tokens } : null,
      model: model ?? req.model,
    };
  }
}
