import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** AES-256-GCM: a 256-bit key, 96-bit nonces (random per value), 128-bit tags. */
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

/**
 * The key that encrypts webhook signing secrets at rest, from its text form: 64 hex digits, or
 * base64 / base64url of 32 bytes (e.g. `openssl rand -hex 32`). Throws a RangeError otherwise.
 */
export function parseSecretsKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)
      ? Buffer.from(trimmed, 'base64')
      : undefined;
  if (key?.length !== KEY_BYTES)
    throw new RangeError('the secrets key must be 32 bytes, as 64 hex digits or base64');
  return key;
}

/** A fresh key in the text form `parseSecretsKey` reads. */
export function generateSecretsKey(): string {
  return randomBytes(KEY_BYTES).toString('hex');
}

/** The stored value was sealed under another key, or altered. */
export class SecretUnreadableError extends Error {
  constructor(reason: string) {
    super(`a webhook secret could not be decrypted: ${reason}`);
    this.name = 'SecretUnreadableError';
  }
}

/**
 * Seals and opens secrets with AES-256-GCM. The sealed form, `v1.<key id>.<base64url of nonce,
 * tag and ciphertext>`, names the key (a short digest of it) so that a wrong key says so instead
 * of failing as "tampered"; the associated data (the account and the secret's id) ties a sealed
 * value to its row: copied onto another account's row, it does not open.
 */
export class SecretsCipher {
  readonly #key: Buffer;
  /** Eight hex digits of a digest of the key: names it, reveals nothing usable about it. */
  readonly keyId: string;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES)
      throw new RangeError(`the secrets key must be ${KEY_BYTES} bytes`);
    this.#key = Buffer.from(key);
    this.keyId = createHash('sha256')
      .update('nanobill secrets key id\0')
      .update(key)
      .digest('hex')
      .slice(0, 8);
  }

  seal(plaintext: string, associatedData: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const packed = Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64url');
    return `${FORMAT}.${this.keyId}.${packed}`;
  }

  /** Throws `SecretUnreadableError` for another key's value, a damaged one, or another row's. */
  open(sealed: string, associatedData: string): string {
    const [format, keyId, packed, ...rest] = sealed.split('.');
    if (format !== FORMAT || packed === undefined || rest.length > 0)
      throw new SecretUnreadableError('unknown format');
    if (keyId !== this.keyId)
      throw new SecretUnreadableError(
        `sealed under key ${keyId}, the configured key is ${this.keyId}`,
      );
    const bytes = Buffer.from(packed, 'base64url');
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new SecretUnreadableError('truncated');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, NONCE_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(bytes.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
    try {
      const body = bytes.subarray(NONCE_BYTES + TAG_BYTES);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnreadableError('altered, or not this row’s value');
    }
  }
}
