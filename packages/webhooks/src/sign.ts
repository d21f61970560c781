import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, with a second `v1=` while a
 * rotated secret's overlap lasts. The timestamp is signed, so a receiver that refuses old ones
 * refuses replays.
 */
export const SIGNATURE_HEADER = 'nanobill-signature';
/** Stable across retries of one alert, so receivers can drop duplicates. */
export const ALERT_ID_HEADER = 'nanobill-alert-id';
/** 1 for the first delivery of an alert, 2 for its first retry, and so on. */
export const ATTEMPT_HEADER = 'nanobill-delivery-attempt';

/** How far a signature's timestamp may be from the receiver's clock, either way, by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;
/** Longer headers are not parsed: a real one carries a timestamp and two signatures. */
const MAX_HEADER_LENGTH = 1024;
/** At most this many `v1=` entries are compared (a real header has one or two). */
const MAX_SIGNATURES = 4;
const TIMESTAMP = /^\d{1,12}$/;
const HEX_DIGEST = /^[0-9a-f]{64}$/i;

/** The secrets a delivery is signed with: the one in force first, then a previous one. */
export type SigningSecrets = readonly string[];

/** The signature header for a body sent at `timestamp` (unix seconds), a `v1=` per secret. */
export function signatureHeader(options: {
  secrets: SigningSecrets;
  rawBody: string | Uint8Array;
  timestamp: number;
}): string {
  const { secrets, rawBody, timestamp } = options;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    throw new RangeError(`timestamp must be unix seconds, got ${timestamp}`);
  if (secrets.length === 0) throw new RangeError('at least one signing secret is needed');
  // An empty key makes the signature computable by anyone.
  if (secrets.some((s) => s.length === 0)) throw new RangeError('a signing secret is empty');
  const signatures = secrets.map(
    (secret) => `v1=${hmac(secret, timestamp, rawBody).toString('hex')}`,
  );
  return [`t=${timestamp}`, ...signatures].join(',');
}

export interface VerifyOptions {
  /** The `nanobill-signature` header as received (absent, repeated or malformed: not valid). */
  header: string | readonly string[] | null | undefined;
  /** The body exactly as received, before any JSON parsing. */
  rawBody: string | Uint8Array;
  /** The receiver's secrets: during a rotation's overlap, the new one and the previous one. */
  secrets: SigningSecrets;
  toleranceSeconds?: number;
  /** The receiver's clock; default now. */
  now?: Date;
}

/**
 * Whether a delivery is authentic and fresh: one of the header's `v1=` signatures is the
 * HMAC-SHA256 of `"<t>.<raw body>"` under one of `secrets`, and `t` is within the tolerance of
 * `now` (either way). Compared in constant time; never throws.
 */
export function verifyWebhook(options: VerifyOptions): boolean {
  try {
    const { header, rawBody, secrets } = options;
    const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
    if (typeof header !== 'string' || header.length > MAX_HEADER_LENGTH) return false;
    if (!Array.isArray(secrets) || !(tolerance >= 0)) return false;
    const parsed = parseHeader(header);
    if (parsed === undefined) return false;
    const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
    if (!(Math.abs(nowSeconds - parsed.timestamp) <= tolerance)) return false;
    let valid = false;
    for (const secret of secrets) {
      if (typeof secret !== 'string' || secret.length === 0) continue;
      const expected = hmac(secret, parsed.timestamp, rawBody);
      for (const given of parsed.signatures) {
        // No early exit: the time taken does not depend on which one matched.
        if (timingSafeEqual(given, expected)) valid = true;
      }
    }
    return valid;
  } catch {
    return false;
  }
}

function parseHeader(header: string): { timestamp: number; signatures: Buffer[] } | undefined {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const item of header.split(',')) {
    const at = item.indexOf('=');
    if (at < 0) return undefined;
    const key = item.slice(0, at).trim();
    const value = item.slice(at + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !TIMESTAMP.test(value)) return undefined;
      timestamp = Number(value);
    } else if (key === 'v1') {
      // Buffer.from(hex, 'hex') silently drops bad digits, so the shape is checked first.
      if (!HEX_DIGEST.test(value)) return undefined;
      if (signatures.length < MAX_SIGNATURES) signatures.push(Buffer.from(value, 'hex'));
    }
    // Other keys (a later scheme's `v2=`) are ignored.
  }
  if (timestamp === undefined || signatures.length === 0) return undefined;
  return { timestamp, signatures };
}

function hmac(secret: string, timestamp: number, rawBody: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}
