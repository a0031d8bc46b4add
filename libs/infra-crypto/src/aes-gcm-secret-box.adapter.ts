import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretBox } from '@agentfleet/domain';

/**
 * AES-256-GCM with a 96-bit random IV per secret. Sealed form: `v1:<key id>:<iv>:<tag>:<ciphertext>`
 * (base64url). The first key seals; every listed key opens, so a rotation (new key first, old key kept)
 * leaves old ciphertexts readable. The key id is bound as additional data.
 */
export class AesGcmSecretBox implements SecretBox {
  private readonly keys: Map<string, Buffer>;
  private readonly current: string | undefined;

  /** `spec`: `id1:<base64 32 bytes>,id2:<base64 32 bytes>`; empty = no key (sealing refused). */
  constructor(spec: string | undefined) {
    this.keys = new Map();
    for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const [id, b64] = part.split(':');
      if (!id || !b64 || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new Error('secret keys are id:base64 pairs separated by commas');
      const key = Buffer.from(b64, 'base64');
      if (key.length !== 32) throw new Error(`secret key ${id} is not 32 bytes (base64 of 32 random bytes)`);
      this.keys.set(id, key);
    }
    this.current = this.keys.keys().next().value;
  }

  get ready(): boolean {
    return this.current !== undefined;
  }

  seal(plaintext: string): string {
    if (!this.current) throw new Error('no secret key configured (AGENTFLEET_SECRET_KEYS)');
    const key = this.keys.get(this.current)!;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(Buffer.from(this.current));
    const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return ['v1', this.current, iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join(':');
  }

  open(sealed: string): string {
    const [v, id, iv, tag, ct] = sealed.split(':');
    if (v !== 'v1' || !id || !iv || !tag || ct === undefined) throw new Error('not a sealed secret');
    const key = this.keys.get(id);
    if (!key) throw new Error(`secret was sealed with key ${id}, which is not configured`);
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    d.setAAD(Buffer.from(id));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
  }
}

/** A new key for AGENTFLEET_SECRET_KEYS (`<id>:<base64>`). */
export function generateSecretKey(id = `k${Date.now().toString(36)}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
