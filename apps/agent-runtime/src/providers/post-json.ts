import { ProviderError } from './llm-provider.port';

export interface JsonResponse {
  status: number;
  /** Parsed body; undefined when it was empty or not JSON. */
  json: unknown;
  retryAfterMs?: number;
}

/**
 * POSTs a JSON body and reads a JSON answer. Network failures become retryable ProviderErrors; an
 * aborted request (timeout or stop) does not, since trying again would outlive the same deadline.
 */
export async function postJson(
  provider: string,
  url: string,
  headers: Record<string, string>,
  body: unknown,
  signal: AbortSignal,
): Promise<JsonResponse> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (signal.aborted) {
      const why =
        signal.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'timed out' : 'was aborted';
      throw new ProviderError(`${provider} request ${why}`, null, false);
    }
    // undici hides the cause (ECONNREFUSED, ENOTFOUND, ...) one level down
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
    throw new ProviderError(
      `${provider} unreachable at ${new URL(url).origin}${cause || `: ${e instanceof Error ? e.message : String(e)}`}`,
      null,
      true,
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const retryAfter = Number(res.headers.get('retry-after'));
  return {
    status: res.status,
    json,
    ...(res.headers.has('retry-after') && Number.isFinite(retryAfter) && retryAfter >= 0
      ? { retryAfterMs: retryAfter * 1000 }
      : {}),
  };
}

/** The ProviderError for a non-2xx answer: 429 and 5xx are worth one more try, other 4xx are not. */
export function httpError(provider: string, res: JsonResponse, detail: string | undefined): ProviderError {
  const retryable = res.status === 429 || res.status >= 500;
  return new ProviderError(
    `${provider} answered HTTP ${res.status}${detail ? `: ${detail.slice(0, 500)}` : ''}`,
    res.status,
    retryable,
    res.retryAfterMs,
  );
}
