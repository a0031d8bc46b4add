import type { Actor } from './principal';

/** Port: the time. Tests pass a controllable one. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

/** Port: runs work in one database transaction with repositories bound to it. */
export interface UnitOfWork<Repos> {
  run<T>(work: (repos: Repos) => Promise<T>): Promise<T>;
}

export interface AuditEntry {
  actor: Actor;
  action: string;
  resourceType: string;
  resourceId: string | null;
  details?: Record<string, unknown>;
}

/** Port: appends to the audit log (inside the caller's transaction). */
export interface AuditLogWriter {
  record(entry: AuditEntry): Promise<void>;
  /** Appends several entries in one statement (a reaper cycle that marks many workers lost at once). */
  recordMany(entries: readonly AuditEntry[]): Promise<void>;
}

/** Port: encrypts secrets at rest (AES-256-GCM); old keys stay readable after a rotation. */
export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
  /** False when no key is configured: storing a secret must then be refused, never done in clear. */
  readonly ready: boolean;
}
