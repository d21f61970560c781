import { createHmac, timingSafeEqual } from 'node:crypto';

/** `sha256=<hex HMAC-SHA256 of the raw body>`: receivers verify it before trusting anything. */
export const SIGNATURE_HEADER = 'nanobill-signature';
/** Stable across retries of one alert, so receivers can drop duplicates. */
export const ALERT_ID_HEADER = 'nanobill-alert-id';
/** 1 for the first delivery of an alert, 2 for its first retry, and so on. */
export const ATTEMPT_HEADER = 'nanobill-delivery-attempt';
/** Unix seconds at sending. Not signed, so receivers must not rely on it for replay protection. */
export const TIMESTAMP_HEADER = 'nanobill-timestamp';

const PREFIX = 'sha256=';
const HEX_DIGEST = /^[0-9a-f]{64}$/i;

/** The signature header value for a body, exactly as sent (a string is signed as UTF-8). */
export function signBody(secret: string, rawBody: string | Uint8Array): string {
  // An empty key makes the signature computable by anyone.
  if (secret.length === 0) throw new RangeError('webhook secret must not be empty');
  return PREFIX + hmac(secret, rawBody).toString('hex');
}

/**
 * Whether `header` is the signature of `rawBody` under `secret`. Never throws: a missing,
 * repeated or malformed header, or an empty secret, is simply not a valid signature.
 */
export function verifySignature(
  secret: string,
  rawBody: string | Uint8Array,
  header: string | readonly string[] | null | undefined,
): boolean {
  if (typeof secret !== 'string' || secret.length === 0) return false;
  if (typeof header !== 'string' || !header.startsWith(PREFIX)) return false;
  const hex = header.slice(PREFIX.length);
  // Buffer.from(hex, 'hex') silently drops bad digits, so the shape is checked first.
  if (!HEX_DIGEST.test(hex)) return false;
  const given = Buffer.from(hex, 'hex');
  const expected = hmac(secret, rawBody);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function hmac(secret: string, rawBody: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(rawBody).digest();
}
