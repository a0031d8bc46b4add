import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type CredentialHasher,
  type CredentialKind,
  CREDENTIAL_PREFIX_LENGTH,
  formatCredential,
} from '@agentfleet/domain';

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** SHA-256 of the whole credential; 256 bits of secret, so a fast hash is the right one (no password stretching). */
export class NodeCredentialHasher implements CredentialHasher {
  issue(kind: CredentialKind) {
    const prefix = randomAlphanumeric(CREDENTIAL_PREFIX_LENGTH);
    const secret = randomBytes(32).toString('base64url');
    const plaintext = formatCredential(kind, prefix, secret);
    return { plaintext, prefix, hash: this.hash(plaintext) };
  }

  hash(plaintext: string): string {
    return createHash('sha256').update(plaintext, 'utf8').digest('hex');
  }

  matches(plaintext: string, storedHash: string): boolean {
    const presented = Buffer.from(this.hash(plaintext), 'hex');
    const stored = Buffer.from(storedHash, 'hex');
    if (stored.length !== presented.length) {
      timingSafeEqual(presented, presented); // same work on every path
      return false;
    }
    return timingSafeEqual(presented, stored);
  }
}

function randomAlphanumeric(length: number): string {
  // rejection sampling keeps every character equally likely
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += ALPHANUM[b % 62];
    }
  }
  return out;
}
