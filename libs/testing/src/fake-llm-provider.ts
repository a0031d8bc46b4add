import { randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The wire formats the fake speaks: OpenAI Chat Completions and the Anthropic Messages API. */
export type FakeLlmWireFormat = 'openai' | 'anthropic';

/** One scripted answer, used by one request in arrival order; the last one repeats. */
export type FakeLlmReply =
  | { kind: 'text'; text: string; promptTokens?: number; completionTokens?: number }
  /** An error in the provider's own error shape (429 rate limit, 500/529 overloaded, 400, ...). */
  | { kind: 'error'; status: number; message?: string; retryAfterSeconds?: number }
  /** Never answers (until the server closes): for client timeouts and stopping a waiting client. */
  | { kind: 'hang' };

export interface RecordedLlmRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when it was not JSON). */
  body: unknown;
}

export interface FakeLlmProviderOptions {
  format: FakeLlmWireFormat;
  /** The key the fake accepts; any other answers 401 exactly as the provider does. */
  apiKey: string;
  replies?: FakeLlmReply[];
}

export interface FakeLlmProvider {
  /** What a client configures as its base URL: `http://127.0.0.1:<port>/v1` (OpenAI) or `http://127.0.0.1:<port>` (Anthropic). */
  baseUrl: string;
  /** Every request received, in order (including refused ones). */
  requests: RecordedLlmRequest[];
  /** Replaces the script of replies. */
  script(replies: FakeLlmReply[]): void;
  close(): Promise<void>;
}

const DEFAULT_REPLY: FakeLlmReply = { kind: 'text', text: 'ok' };

/**
 * A local HTTP server that answers like the real provider: same paths, authentication headers, request
 * validation, success and error bodies. Used instead of a provider API, which no test machine can reach.
 */
export async function startFakeLlmProvider(options: FakeLlmProviderOptions): Promise<FakeLlmProvider> {
  let replies = options.replies?.length ? [...options.replies] : [DEFAULT_REPLY];
  let served = 0;
  const requests: RecordedLlmRequest[] = [];
  const wire = options.format === 'openai' ? openAiWire : anthropicWire;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      const refusal = wire.refuse(req, body, options.apiKey);
      if (refusal) return send(res, refusal.status, refusal.body);
      // the last scripted reply repeats, so a test scripts only what differs
      const reply = replies[Math.min(served, replies.length - 1)] ?? DEFAULT_REPLY;
      served++;
      if (reply.kind === 'hang') return;
      if (reply.kind === 'error') {
        const headers: Record<string, string> =
          reply.retryAfterSeconds === undefined ? {} : { 'retry-after': String(reply.retryAfterSeconds) };
        return send(res, reply.status, wire.error(reply.status, reply.message), headers);
      }
      send(res, 200, wire.success(body as { model?: string }, reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    baseUrl: options.format === 'openai' ? `${origin}/v1` : origin,
    requests,
    script(next) {
      replies = next.length ? [...next] : [DEFAULT_REPLY];
      served = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

interface Wire {
  /** What the real API answers to a request it does not accept (wrong path, key, headers, body). */
  refuse(req: IncomingMessage, body: unknown, apiKey: string): { status: number; body: unknown } | undefined;
  error(status: number, message?: string): unknown;
  success(request: { model?: string }, reply: Extract<FakeLlmReply, { kind: 'text' }>): unknown;
}

/** Masks a key the way OpenAI's 401 message does (first and last characters only). */
function masked(key: string): string {
  return key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}` : '***';
}

const openAiWire: Wire = {
  refuse(req, body, apiKey) {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return {
        status: 404,
        body: openAiError(`Invalid URL (${req.method} ${req.url})`, 'invalid_request_error', null),
      };
    }
    const auth = req.headers['authorization'] ?? '';
    if (auth !== `Bearer ${apiKey}`) {
      const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      return {
        status: 401,
        body: given
          ? openAiError(
              `Incorrect API key provided: ${masked(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
              'invalid_request_error',
              'invalid_api_key',
            )
          : openAiError(
              "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
              'invalid_request_error',
              null,
            ),
      };
    }
    const b = body as { model?: unknown; messages?: unknown } | undefined;
    if (!b || typeof b.model !== 'string') {
      return {
        status: 400,
        body: openAiError('you must provide a model parameter', 'invalid_request_error', null),
      };
    }
    if (!Array.isArray(b.messages) || b.messages.length === 0) {
      return {
        status: 400,
        body: openAiError(
          "Missing required parameter: 'messages'.",
          'invalid_request_error',
          'missing_required_parameter',
        ),
      };
    }
    return undefined;
  },
  error(status, message) {
    if (status === 429) {
      return openAiError(
        message ?? 'Rate limit reached for requests. Please try again in 1s.',
        'requests',
        'rate_limit_exceeded',
      );
    }
    if (status >= 500)
      return openAiError(
        message ?? 'The server had an error while processing your request.',
        'server_error',
        null,
      );
    return openAiError(message ?? 'Bad request', 'invalid_request_error', null);
  },
  success(request, reply) {
    const prompt = reply.promptTokens ?? 10;
    const completion = reply.completionTokens ?? 5;
    return {
      id: `chatcmpl-${randomBytes(12).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: request.model ?? 'unknown',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: reply.text, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: null,
    };
  },
};

function openAiError(message: string, type: string, code: string | null): unknown {
  return { error: { message, type, param: null, code } };
}

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const anthropicWire: Wire = {
  refuse(req, body, apiKey) {
    if (req.method !== 'POST' || req.url !== '/v1/messages') {
      return { status: 404, body: anthropicError(404, 'Not found') };
    }
    if (req.headers['x-api-key'] !== apiKey) {
      return {
        status: 401,
        body: anthropicError(
          401,
          req.headers['x-api-key'] ? 'invalid x-api-key' : 'x-api-key header is required',
        ),
      };
    }
    if (!req.headers['anthropic-version']) {
      return { status: 400, body: anthropicError(400, 'anthropic-version: header is required') };
    }
    const b = body as { model?: unknown; max_tokens?: unknown; messages?: unknown } | undefined;
    if (!b) return { status: 400, body: anthropicError(400, 'There was an issue with the request body') };
    if (typeof b.model !== 'string')
      return { status: 400, body: anthropicError(400, 'model: Field required') };
    if (typeof b.max_tokens !== 'number') {
      return { status: 400, body: anthropicError(400, 'max_tokens: Field required') };
    }
    if (!Array.isArray(b.messages) || b.messages.length === 0) {
      return { status: 400, body: anthropicError(400, 'messages: Field required') };
    }
    return undefined;
  },
  error(status, message) {
    return anthropicError(
      status,
      message ?? (status === 429 ? 'Number of request tokens has exceeded your rate limit.' : 'Overloaded'),
    );
  },
  success(request, reply) {
    return {
      id: `msg_${randomBytes(12).toString('hex')}`,
      type: 'message',
      role: 'assistant',
      model: request.model ?? 'unknown',
      content: [{ type: 'text', text: reply.text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: reply.promptTokens ?? 10,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: reply.completionTokens ?? 5,
      },
    };
  },
};

function anthropicError(status: number, message: string): unknown {
  return { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[status] ?? 'api_error', message } };
}
