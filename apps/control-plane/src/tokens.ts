/** Injection tokens for ports (interfaces have no runtime identity). */
export const DATA_SOURCE = Symbol('DATA_SOURCE');
export const REDIS = Symbol('REDIS');
export const REDIS_KEYS = Symbol('REDIS_KEYS');
export const CREDENTIAL_HASHER = Symbol('CREDENTIAL_HASHER');
export const CLOCK = Symbol('CLOCK');
export const ACCESS_UOW = Symbol('ACCESS_UOW');
export const FLEET_UOW = Symbol('FLEET_UOW');
export const FLEET_LIVENESS = Symbol('FLEET_LIVENESS');
export const FLEET_SETTINGS = Symbol('FLEET_SETTINGS');
export const AUDIT_READER = Symbol('AUDIT_READER');
export const RATE_LIMITER = Symbol('RATE_LIMITER');
export const EXECUTION_UOW = Symbol('EXECUTION_UOW');
export const JOB_QUEUE = Symbol('JOB_QUEUE');
export const JOB_SIGNALS = Symbol('JOB_SIGNALS');
export const ATTEMPT_EVIDENCE = Symbol('ATTEMPT_EVIDENCE');
export const SECRET_BOX = Symbol('SECRET_BOX');
