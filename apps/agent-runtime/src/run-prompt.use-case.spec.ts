import type { RuntimeEvent } from '@agentfleet/contracts';
import {
  type Completion,
  type CompletionRequest,
  type LlmProvider,
  ProviderError,
} from './providers/llm-provider.port';
import { runPrompt } from './run-prompt.use-case';
import { createEventWriter } from './runtime-event.writer';

/** Answers from a script; a function entry sees the request (to wait on its signal). */
class ScriptedProvider implements LlmProvider {
  readonly name = 'scripted';
  calls = 0;
  constructor(
    private readonly script: Array<Completion | Error | ((r: CompletionRequest) => Promise<Completion>)>,
  ) {}
  async complete(req: CompletionRequest): Promise<Completion> {
    const next = this.script[this.calls++];
    if (next === undefined) throw new Error('script exhausted');
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next(req) : next;
  }
}

const cmd = { model: 'm', prompt: 'p', maxTokens: 16, timeoutMs: 5_000 };
const answer: Completion = { text: 'done', usage: { promptTokens: 3, completionTokens: 2 }, model: 'm-2025' };

function collect() {
  const events: RuntimeEvent[] = [];
  return { events, emit: (e: RuntimeEvent) => events.push(e) };
}

describe('runPrompt', () => {
  it('retries a retryable failure once, then reports usage and result', async () => {
    const provider = new ScriptedProvider([
      new ProviderError('scripted answered HTTP 503', 503, true),
      answer,
    ]);
    const { events, emit } = collect();

    await runPrompt(cmd, { provider, emit, stop: new AbortController().signal, retryBackoffMs: 1 });

    expect(provider.calls).toBe(2);
    expect(events.map((e) => e.type)).toEqual(['progress', 'progress', 'log', 'progress', 'usage', 'result']);
    expect(events[4]).toEqual({
      v: 1,
      type: 'usage',
      model: 'm-2025',
      prompt_tokens: 3,
      completion_tokens: 2,
    });
  });

  it('does not retry a non-retryable failure', async () => {
    const provider = new ScriptedProvider([
      new ProviderError('scripted answered HTTP 400', 400, false),
      answer,
    ]);
    const { emit } = collect();

    await expect(runPrompt(cmd, { provider, emit, stop: new AbortController().signal })).rejects.toThrow(
      'HTTP 400',
    );
    expect(provider.calls).toBe(1);
  });

  it('passes a signal that the per-request timeout aborts', async () => {
    const hang = (r: CompletionRequest) =>
      new Promise<Completion>((_, reject) =>
        r.signal.addEventListener('abort', () =>
          reject(new ProviderError('scripted request timed out', null, false)),
        ),
      );
    const provider = new ScriptedProvider([hang]);
    const { emit } = collect();

    await expect(
      runPrompt({ ...cmd, timeoutMs: 20 }, { provider, emit, stop: new AbortController().signal }),
    ).rejects.toThrow('timed out');
  });

  it('reports a missing usage as a warning instead of zero tokens', async () => {
    const provider = new ScriptedProvider([{ ...answer, usage: null }]);
    const { events, emit } = collect();

    await runPrompt(cmd, { provider, emit, stop: new AbortController().signal });

    expect(events.some((e) => e.type === 'usage')).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'log', level: 'warn' }));
  });
});

describe('createEventWriter', () => {
  it('redacts secrets wherever they appear and keeps text within the contract limits', () => {
    const lines: string[] = [];
    const emit = createEventWriter((l) => lines.push(l), ['sk-secret"quoted', undefined]);

    emit({ v: 1, type: 'log', level: 'error', message: 'bad key sk-secret"quoted given' });
    emit({ v: 1, type: 'log', level: 'info', message: 'x'.repeat(20_000) });

    expect(lines[0]).toBe('{"v":1,"type":"log","level":"error","message":"bad key [redacted] given"}');
    expect((JSON.parse(lines[1]!) as { message: string }).message).toHaveLength(16_000);
  });
});
