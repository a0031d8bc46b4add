import { createHash } from 'node:crypto';
import { CREDENTIAL_PREFIX_LENGTH, parseCredential } from '@agentfleet/domain';
import { NodeCredentialHasher } from './node-credential-hasher.adapter';

describe('NodeCredentialHasher', () => {
  const hasher = new NodeCredentialHasher();

  it.each(['awt', 'afk'] as const)(
    'issues %s_<12 alphanumerics>_<43 base64url> that parseCredential accepts',
    (kind) => {
      const issued = hasher.issue(kind);
      expect(issued.plaintext).toMatch(new RegExp(`^${kind}_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$`));
      expect(issued.prefix).toHaveLength(CREDENTIAL_PREFIX_LENGTH);
      expect(issued.plaintext.startsWith(`${kind}_${issued.prefix}_`)).toBe(true);
      expect(parseCredential(issued.plaintext, kind)).toEqual({
        kind,
        prefix: issued.prefix,
        plaintext: issued.plaintext,
      });
      // an API key is not a worker token and vice versa
      expect(parseCredential(issued.plaintext, kind === 'afk' ? 'awt' : 'afk')).toBeUndefined();
    },
  );

  it('stores the SHA-256 hex of the whole plaintext, never the plaintext', () => {
    const issued = hasher.issue('afk');
    expect(issued.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(issued.hash).toBe(createHash('sha256').update(issued.plaintext).digest('hex'));
    expect(issued.hash).not.toContain(issued.prefix);
    expect(hasher.hash(issued.plaintext)).toBe(issued.hash);
  });

  it('issues a different prefix, secret and hash every time', () => {
    const many = Array.from({ length: 200 }, () => hasher.issue('awt'));
    expect(new Set(many.map((c) => c.prefix)).size).toBe(200);
    expect(
      new Set(many.map((c) => c.plaintext.slice('awt_'.length + CREDENTIAL_PREFIX_LENGTH + 1))).size,
    ).toBe(200);
    expect(new Set(many.map((c) => c.hash)).size).toBe(200);
  });

  it('matches() is true for the issued plaintext and its stored hash', () => {
    const issued = hasher.issue('awt');
    expect(hasher.matches(issued.plaintext, issued.hash)).toBe(true);
  });

  it('matches() is false for another credential, a one-character change, or another hash', () => {
    const issued = hasher.issue('awt');
    const other = hasher.issue('awt');
    expect(hasher.matches(other.plaintext, issued.hash)).toBe(false);
    const last = issued.plaintext.slice(-1);
    const tampered = issued.plaintext.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    expect(hasher.matches(tampered, issued.hash)).toBe(false);
    expect(hasher.matches(issued.plaintext, other.hash)).toBe(false);
  });

  it('matches() is false, without throwing, for stored hashes of a different length', () => {
    const issued = hasher.issue('afk');
    expect(hasher.matches(issued.plaintext, issued.hash.slice(0, 62))).toBe(false);
    expect(hasher.matches(issued.plaintext, `${issued.hash}00`)).toBe(false);
    expect(hasher.matches(issued.plaintext, '')).toBe(false);
    expect(hasher.matches(issued.plaintext, 'not hex at all')).toBe(false);
  });

  it('the authentication placeholder hash (64 zeros) matches nothing', () => {
    expect(hasher.matches(hasher.issue('afk').plaintext, '0'.repeat(64))).toBe(false);
  });
});
