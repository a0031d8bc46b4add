import { AesGcmSecretBox, generateSecretKey } from './aes-gcm-secret-box.adapter';

describe('AesGcmSecretBox', () => {
  const k1 = generateSecretKey('k1');
  const k2 = generateSecretKey('k2');

  it('seals and opens, never leaving the plaintext in the sealed form', () => {
    const box = new AesGcmSecretBox(k1);
    const sealed = box.seal('sk-very-secret');
    expect(sealed).not.toContain('sk-very-secret');
    expect(sealed.startsWith('v1:k1:')).toBe(true);
    expect(box.open(sealed)).toBe('sk-very-secret');
    expect(box.seal('x')).not.toBe(box.seal('x')); // a fresh IV each time
  });

  it('keeps old secrets readable after a rotation and seals with the new key', () => {
    const old = new AesGcmSecretBox(k1).seal('before');
    const rotated = new AesGcmSecretBox(`${k2},${k1}`);
    expect(rotated.open(old)).toBe('before');
    expect(rotated.seal('after').startsWith('v1:k2:')).toBe(true);
  });

  it('refuses a tampered ciphertext, an unknown key and sealing without a key', () => {
    const box = new AesGcmSecretBox(k1);
    const parts = box.seal('data').split(':');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join(':'))).toThrow();
    expect(() => new AesGcmSecretBox(k2).open(box.seal('x'))).toThrow('not configured');
    const none = new AesGcmSecretBox(undefined);
    expect(none.ready).toBe(false);
    expect(() => none.seal('x')).toThrow('no secret key');
  });

  it('refuses a key of the wrong size', () => {
    expect(() => new AesGcmSecretBox(`k:${Buffer.alloc(16).toString('base64')}`)).toThrow('32 bytes');
  });
});
