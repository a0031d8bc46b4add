/**
 * Credentials look like `<kind>_<prefix>_<secret>`: the prefix is stored in clear to find the row,
 * the whole string is stored only as a SHA-256 hash and compared in constant time.
 */
export type CredentialKind = 'afk' | 'awt';

export const CREDENTIAL_PREFIX_LENGTH = 12;
export const CREDENTIAL_SECRET_LENGTH = 43; // 32 random bytes, base64url

const PATTERN = /^(afk|awt)_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface ParsedCredential {
  kind: CredentialKind;
  prefix: string;
  plaintext: string;
}

/** Parses a presented credential; returns undefined for anything malformed (never throws, never logs it). */
export function parseCredential(
  value: string | undefined,
  kind: CredentialKind,
): ParsedCredential | undefined {
  if (!value || value.length > 128) return undefined;
  const m = PATTERN.exec(value);
  if (!m || m[1] !== kind) return undefined;
  return { kind, prefix: m[2] as string, plaintext: value };
}

export function formatCredential(kind: CredentialKind, prefix: string, secret: string): string {
  return `${kind}_${prefix}_${secret}`;
}

/** Port: makes and checks credential secrets. */
export interface CredentialHasher {
  /** A new credential of the kind: its plaintext (shown once), prefix and hash. */
  issue(kind: CredentialKind): { plaintext: string; prefix: string; hash: string };
  hash(plaintext: string): string;
  /** Constant-time comparison of a presented plaintext with a stored hash. */
  matches(plaintext: string, storedHash: string): boolean;
}
