import { createHash } from 'node:crypto';

/**
 * What an alert id may be: 1 to 256 visible ASCII characters. The id travels as a Kafka key, a
 * ClickHouse key and the `nanobill-alert-id` HTTP header, where a control character would be
 * refused (or split the header) and non-ASCII bytes are mangled. The `Alert` schema and the
 * webhook sender both use this one rule.
 */
export const ALERT_ID_PATTERN = /^[\x21-\x7e]{1,256}$/;
export const MAX_ALERT_ID_LENGTH = 256;

export function isValidAlertId(value: unknown): value is string {
  return typeof value === 'string' && ALERT_ID_PATTERN.test(value);
}

/** A value kept as is inside an id: the hub's account names (letters, digits, `-`, `_`, `.`). */
const PLAIN_PART = /^[A-Za-z0-9._-]{1,96}$/;
/** Marks a digested part; never the first character of a plain part, so the two cannot meet. */
const DIGEST_MARK = '~';
/** 128 bits of SHA-256: no two values met in practice share it, nor can anyone make them. */
const DIGEST_HEX_CHARS = 32;

/**
 * One variable part of an alert id (an account id, an org named in `X-HF-Bill-To`, a provider, a
 * topic, another alert's id): kept as is when it is a plain name, so ordinary ids stay readable
 * (`threshold:2026-11:acme:limit_80`), otherwise `~` and a SHA-256 prefix of its UTF-8 bytes.
 * Either way at most 96 characters without `:`, so an id made of such parts and fixed words is
 * always valid and unambiguous, whatever the input.
 */
export function alertIdPart(value: string): string {
  if (PLAIN_PART.test(value)) return value;
  const digest = createHash('sha256').update(value, 'utf8').digest('hex');
  return DIGEST_MARK + digest.slice(0, DIGEST_HEX_CHARS);
}
