import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  generateSecretsKey,
  generateSigningSecret,
  parseSecretsKey,
  SecretsCipher,
  SecretUnreadableError,
} from '../src/index.js';

const cipher = () => new SecretsCipher(parseSecretsKey(generateSecretsKey()));

describe('SecretsCipher (AES-256-GCM)', () => {
  it('opens what it sealed, for any secret and associated data', () => {
    const one = cipher();
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (secret, aad) => {
        const sealed = one.seal(secret, aad);
        expect(sealed).toMatch(/^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/);
        return one.open(sealed, aad) === secret;
      }),
    );
  });

  it('never stores the secret in clear, and seals it differently each time', () => {
    const one = cipher();
    const secret = generateSigningSecret();
    const [a, b] = [one.seal(secret, 'acme'), one.seal(secret, 'acme')];
    expect(a).not.toBe(b);
    for (const sealed of [a, b]) {
      expect(sealed).not.toContain(secret);
      expect(sealed).not.toContain(secret.slice(8, 20));
    }
  });

  it('refuses another key, naming both keys', () => {
    const [one, other] = [cipher(), cipher()];
    const sealed = one.seal('s3cret', 'acme');
    expect(() => other.open(sealed, 'acme')).toThrow(SecretUnreadableError);
    expect(() => other.open(sealed, 'acme')).toThrow(one.keyId);
  });

  it('refuses a value moved to another row (associated data) or altered anywhere', () => {
    const one = cipher();
    const sealed = one.seal('s3cret', 'id1\0acme');
    expect(() => one.open(sealed, 'id1\0evil')).toThrow(SecretUnreadableError);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 63 }), (at, delta) => {
        const body = sealed.split('.')[2]!;
        const index = at % body.length;
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const swapped = alphabet[(alphabet.indexOf(body[index]!) + delta) % 64]!;
        const altered = `v1.${one.keyId}.${body.slice(0, index)}${swapped}${body.slice(index + 1)}`;
        // Base64url's last character may carry unused bits: a change there can decode the same.
        const same = Buffer.from(altered.split('.')[2]!, 'base64url').equals(
          Buffer.from(body, 'base64url'),
        );
        if (same) return true;
        expect(() => one.open(altered, 'id1\0acme')).toThrow(SecretUnreadableError);
        return true;
      }),
    );
    for (const broken of [
      '',
      'v1',
      'v2.x.y',
      `v1.${one.keyId}.`,
      `v1.${one.keyId}.AAAA`,
      `${sealed}.x`,
    ]) {
      expect(() => one.open(broken, 'id1\0acme'), broken).toThrow(SecretUnreadableError);
    }
  });

  it('reads keys as 64 hex digits or base64 of 32 bytes, nothing else', () => {
    const hex = generateSecretsKey();
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    const key = parseSecretsKey(`  ${hex}\n`);
    expect(parseSecretsKey(key.toString('base64')).equals(key)).toBe(true);
    expect(parseSecretsKey(key.toString('base64url')).equals(key)).toBe(true);
    for (const bad of [
      '',
      'short',
      hex.slice(2),
      `${hex}00`,
      Buffer.alloc(16).toString('base64'),
    ]) {
      expect(() => parseSecretsKey(bad), bad).toThrow(RangeError);
    }
    expect(() => new SecretsCipher(Buffer.alloc(16))).toThrow(RangeError);
  });

  it('makes signing secrets of 256 random bits', () => {
    const secrets = new Set(Array.from({ length: 100 }, generateSigningSecret));
    expect(secrets.size).toBe(100);
    for (const secret of secrets) expect(secret).toMatch(/^nbwhsec_[A-Za-z0-9_-]{43}$/);
  });
});
