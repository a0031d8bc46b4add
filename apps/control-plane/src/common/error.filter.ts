import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { DomainError, RateLimitedError } from '@agentfleet/domain';
import type { Response } from 'express';
import { QueryFailedError } from 'typeorm';

const STATUS: Record<DomainError['kind'], number> = {
  not_found: 404,
  conflict: 409,
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  rate_limited: 429,
  unavailable: 503,
};

const HTTP_KIND: Record<number, string> = {
  ...Object.fromEntries(Object.entries(STATUS).map(([kind, status]): [number, string] => [status, kind])),
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/**
 * One error shape for every failure: `{ statusCode, error, message, errors?: [{ field, message }] }`.
 * Unexpected errors are logged with their stack and answered with a bare 500 (no internals leak).
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(exception: unknown, host: ArgumentsHost) {
    sendError(host.switchToHttp().getResponse<Response>(), exception, this.logger);
  }
}

/** Writes the error response; shared by the filter and the body-parser error middleware. */
export function sendError(res: Response, exception: unknown, logger: Logger) {
  const { status, body } = describeError(exception, logger);
  if (exception instanceof RateLimitedError)
    res.setHeader('Retry-After', String(exception.retryAfterSeconds));
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  res.status(status).json({ statusCode: status, ...body });
}

/** True for the errors Express' body parser raises (malformed JSON, too large, bad encoding). */
export function isBodyParserError(e: unknown): boolean {
  const t = (e as BodyParserError | undefined)?.type;
  return (
    typeof t === 'string' &&
    (t.startsWith('entity.') || t.endsWith('.unsupported') || t === 'request.aborted')
  );
}

/**
 * A unique constraint that a concurrent request won (two creates of the same organization name or user
 * email race past the use case's existence check, or an unchecked unique column) is a conflict, not a
 * 500. The field is read from PostgreSQL's `Key (organization_id, email)=(…)` detail; values are never echoed.
 */
function uniqueViolation(e: unknown): { field: string | undefined } | undefined {
  if (!(e instanceof QueryFailedError)) return undefined;
  const driver = e.driverError as { code?: string; detail?: string } | undefined;
  if (driver?.code !== '23505') return undefined;
  const columns = /^Key \(([^)]+)\)=/.exec(driver.detail ?? '')?.[1]?.split(/,\s*/) ?? [];
  return { field: columns.filter((c) => c !== 'organization_id').pop() };
}

function describeError(e: unknown, logger: Logger): { status: number; body: Record<string, unknown> } {
  if (e instanceof DomainError) {
    const status = STATUS[e.kind];
    return {
      status,
      body: {
        error: e.kind,
        message: e.message,
        ...(e.field ? { errors: [{ field: e.field, message: e.message }] } : {}),
      },
    };
  }
  const unique = uniqueViolation(e);
  if (unique) {
    const message = unique.field
      ? `a record with this ${unique.field} already exists`
      : 'a conflicting record already exists';
    return {
      status: 409,
      body: {
        error: 'conflict',
        message,
        ...(unique.field ? { errors: [{ field: unique.field, message }] } : {}),
      },
    };
  }
  const bp = e as BodyParserError;
  if (bp && typeof bp === 'object' && bp.type === 'entity.parse.failed') {
    return {
      status: 400,
      body: {
        error: 'invalid',
        message: 'request body is not valid JSON',
        errors: [{ field: 'body', message: 'malformed JSON' }],
      },
    };
  }
  if (bp && typeof bp === 'object' && bp.type === 'entity.too.large') {
    return {
      status: 413,
      body: { error: 'payload_too_large', message: `request body exceeds the limit of ${bp.limit} bytes` },
    };
  }
  if (
    bp &&
    typeof bp === 'object' &&
    (bp.type === 'encoding.unsupported' || bp.type === 'charset.unsupported')
  ) {
    return {
      status: 415,
      body: { error: 'unsupported_media_type', message: 'request body encoding is not supported' },
    };
  }
  if (e instanceof HttpException) {
    const status = e.getStatus();
    const r = e.getResponse();
    const body = typeof r === 'string' ? { message: r } : (r as Record<string, unknown>);
    return {
      status,
      body: {
        // one vocabulary with domain errors: not_found, invalid, ... (Nest says "Not Found", "Bad Request")
        error: HTTP_KIND[status] ?? (typeof body['error'] === 'string' ? body['error'] : e.name),
        message: body['message'] ?? e.message,
        ...(body['errors'] ? { errors: body['errors'] } : {}),
      },
    };
  }
  if (bp && typeof bp === 'object' && bp.type && typeof bp.status === 'number' && bp.status < 500) {
    return { status: bp.status, body: { error: 'invalid', message: 'request body could not be read' } };
  }
  logger.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  return { status: 500, body: { error: 'internal', message: 'internal server error' } };
}
