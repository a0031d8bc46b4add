import type { EngineProvider } from '../env';
import { AnthropicProvider } from './anthropic.provider';
import type { LlmProvider } from './llm-provider.port';
import { OpenAiProvider } from './openai.provider';

const DEFAULT_BASE_URLS: Record<EngineProvider, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

/** The one place that maps AGENTFLEET_ENGINE_PROVIDER to an implementation. */
export function createProvider(
  kind: EngineProvider,
  baseUrl: string | undefined,
  apiKey: string,
): LlmProvider {
  const base = (baseUrl ?? DEFAULT_BASE_URLS[kind]).replace(/\/+$/, '');
  switch (kind) {
    case 'openai':
      return new OpenAiProvider(base, apiKey);
    case 'anthropic':
      return new AnthropicProvider(base, apiKey);
  }
}
