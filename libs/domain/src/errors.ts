/** Errors use cases raise; the HTTP layer maps each kind to one status code. */
export abstract class DomainError extends Error {
  abstract readonly kind:
    'not_found' | 'conflict' | 'invalid' | 'unauthenticated' | 'forbidden' | 'rate_limited' | 'unavailable';
  constructor(
    message: string,
    /** The request field at fault, when one is. */
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
export class NotFoundError extends DomainError {
  readonly kind = 'not_found' as const;
  constructor(resource: string, id?: string) {
    super(id ? `${resource} ${id} not found` : `${resource} not found`);
  }
}
export class ConflictError extends DomainError {
  readonly kind = 'conflict' as const;
}
export class InvalidInputError extends DomainError {
  readonly kind = 'invalid' as const;
}
export class UnauthenticatedError extends DomainError {
  readonly kind = 'unauthenticated' as const;
}
export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden' as const;
}
export class RateLimitedError extends DomainError {
  readonly kind = 'rate_limited' as const;
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
export class UnavailableError extends DomainError {
  readonly kind = 'unavailable' as const;
}
